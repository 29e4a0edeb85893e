/// Which checkpoint to ask for.
public enum ModelRequest: Sendable, Equatable {
    /// `GET /v1/model`; with a version, sent as `If-None-Match: "v<version>"` so an unchanged model costs a 304.
    case current(ifNoneMatch: UInt64?)
    /// `GET /v1/models/{version}`.
    case version(UInt64)
    /// `GET /v1/model` (or `/v1/models/{version}` when `version` is set) with
    /// `If-None-Match: "<contentHash>"`: for weights no signed manifest has vouched
    /// for yet — the policy the node was provisioned with. When they are the version
    /// asked for, the answer is ``ModelFetch/confirmed(_:)`` and no checkpoint crosses the wire.
    case unlessHolding(contentHash: String, version: UInt64?)
}

/// A checkpoint as it came off the wire, not yet trusted.
///
/// Nothing here is used before ``ModelVerifier`` has checked the signature
/// over ``manifestBytes`` and the checkpoint's hash against the manifest.
public struct ModelDownload: Sendable, Equatable {
    /// `Fleet-Model-Version`.
    public var version: UInt64
    /// The manifest's canonical bytes (decoded from `Fleet-Manifest`).
    public var manifestBytes: [UInt8]
    /// The Ed25519 signature over them (decoded from `Fleet-Manifest-Signature`).
    public var signature: [UInt8]
    /// The checkpoint, zstd-compressed as sent.
    public var compressedCheckpoint: [UInt8]

    public init(version: UInt64, manifestBytes: [UInt8], signature: [UInt8], compressedCheckpoint: [UInt8]) {
        self.version = version
        self.manifestBytes = manifestBytes
        self.signature = signature
        self.compressedCheckpoint = compressedCheckpoint
    }
}

/// A version as the change from the version the node holds, not yet trusted.
///
/// The node applies the delta to its parent and uses the result only if
/// ``ModelVerifier`` finds the signed manifest's content hash over the rebuilt
/// checkpoint; otherwise it downloads the checkpoint itself.
public struct ModelDeltaDownload: Sendable, Equatable {
    /// `Fleet-Model-Version`.
    public var version: UInt64
    /// `Fleet-Model-Parent`: the version the delta applies to.
    public var parent: UInt64
    /// The manifest's canonical bytes (decoded from `Fleet-Manifest`).
    public var manifestBytes: [UInt8]
    /// The Ed25519 signature over them (decoded from `Fleet-Manifest-Signature`).
    public var signature: [UInt8]
    /// The delta container (`Protocols/delta-format.md`), zstd-compressed as sent.
    public var compressedDelta: [UInt8]

    public init(version: UInt64, parent: UInt64, manifestBytes: [UInt8], signature: [UInt8], compressedDelta: [UInt8]) {
        self.version = version
        self.parent = parent
        self.manifestBytes = manifestBytes
        self.signature = signature
        self.compressedDelta = compressedDelta
    }
}

/// A 304 for the content the node named: the version its weights are, with that
/// version's signed manifest and no body, not yet trusted.
///
/// ``ModelVerifier`` checks the signature and that the manifest pins exactly the
/// node's own checkpoint before the weights count as that version.
public struct ModelConfirmation: Sendable, Equatable {
    /// `Fleet-Model-Version`.
    public var version: UInt64
    /// The manifest's canonical bytes (decoded from `Fleet-Manifest`).
    public var manifestBytes: [UInt8]
    /// The Ed25519 signature over them (decoded from `Fleet-Manifest-Signature`).
    public var signature: [UInt8]

    public init(version: UInt64, manifestBytes: [UInt8], signature: [UInt8]) {
        self.version = version
        self.manifestBytes = manifestBytes
        self.signature = signature
    }
}

/// The outcome of asking for a model.
public enum ModelFetch: Sendable, Equatable {
    /// 304: the node already has the current version.
    case notModified
    /// The whole checkpoint.
    case model(ModelDownload)
    /// The change from the version the node said it holds (`If-None-Match`).
    case delta(ModelDeltaDownload)
    /// 304 for the content the node named: its weights are this version.
    case confirmed(ModelConfirmation)

    /// The bytes of the body as received (0 for a 304).
    public var bodyBytes: Int {
        switch self {
        case .notModified, .confirmed: 0
        case .model(let download): download.compressedCheckpoint.count
        case .delta(let delta): delta.compressedDelta.count
        }
    }
}
