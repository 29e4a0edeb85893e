/// A node's heartbeat (`POST /v1/heartbeat`): it registers the node on first
/// contact and keeps it counted as alive during long local work.
public struct NodeHeartbeat: Sendable, Equatable, Codable {
    /// What the node is busy with.
    public enum State: String, Sendable, Codable, CaseIterable {
        case driving, adapting, uploading, idle
    }

    public var state: State
    /// The verified model version the node runs; nil before it has one.
    public var modelVersion: UInt64?
    /// The region the node drives in.
    public var region: String?
    /// Captures waiting in the spool.
    public var capturesPending: Int

    public init(state: State, modelVersion: UInt64?, region: String?, capturesPending: Int) {
        self.state = state
        self.modelVersion = modelVersion
        self.region = region
        self.capturesPending = capturesPending
    }

    enum CodingKeys: String, CodingKey {
        case state, region
        case modelVersion = "model_version"
        case capturesPending = "captures_pending"
    }
}

/// The coordinator's answer to a heartbeat.
public struct HeartbeatReply: Sendable, Equatable, Codable {
    /// The coordinator's published version.
    public var currentVersion: UInt64
    /// The round taking updates, if any.
    public var openRound: UInt64?
    /// Seconds until the next heartbeat is due.
    public var heartbeatInterval: Double

    public init(currentVersion: UInt64, openRound: UInt64?, heartbeatInterval: Double) {
        self.currentVersion = currentVersion
        self.openRound = openRound
        self.heartbeatInterval = heartbeatInterval
    }

    enum CodingKeys: String, CodingKey {
        case currentVersion = "current_version"
        case openRound = "open_round"
        case heartbeatInterval = "heartbeat_interval"
    }
}

/// Work handed to this node (`GET /v1/task`): adapt on `baseVersion`, send an update for `round`.
public struct TaskAssignment: Sendable, Equatable, Codable {
    /// How the coordinator wants the delta compressed this round.
    public struct Compression: Sendable, Equatable, Codable {
        /// The top-k share of each tensor's entries kept.
        public var fraction: Double?
        /// Whether values are int8-quantized.
        public var quantize: Bool?

        public init(fraction: Double? = nil, quantize: Bool? = nil) {
            self.fraction = fraction
            self.quantize = quantize
        }
    }

    public var round: UInt64
    public var baseVersion: UInt64
    /// Seconds left before the round closes.
    public var deadlineSeconds: Double
    public var compression: Compression?

    public init(round: UInt64, baseVersion: UInt64, deadlineSeconds: Double, compression: Compression? = nil) {
        self.round = round
        self.baseVersion = baseVersion
        self.deadlineSeconds = deadlineSeconds
        self.compression = compression
    }

    enum CodingKeys: String, CodingKey {
        case round, compression
        case baseVersion = "base_version"
        case deadlineSeconds = "deadline_seconds"
    }
}

/// The coordinator's receipt for an accepted update (202).
public struct UpdateReceipt: Sendable, Equatable, Codable {
    public var round: UInt64
    /// Updates accepted in the round so far, this one included.
    public var acceptedUpdates: Int
    /// How many versions old the update's base was.
    public var staleness: Int?
    /// Whether the update was norm-clipped.
    public var clipped: Bool?

    public init(round: UInt64, acceptedUpdates: Int, staleness: Int? = nil, clipped: Bool? = nil) {
        self.round = round
        self.acceptedUpdates = acceptedUpdates
        self.staleness = staleness
        self.clipped = clipped
    }

    enum CodingKeys: String, CodingKey {
        case round, staleness, clipped
        case acceptedUpdates = "accepted_updates"
    }
}

/// Which checkpoint to ask for.
public enum ModelRequest: Sendable, Equatable {
    /// `GET /v1/model`; with a version, sent as `If-None-Match: "v<version>"` so an unchanged model costs a 304.
    case current(ifNoneMatch: UInt64?)
    /// `GET /v1/models/{version}`.
    case version(UInt64)
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

/// The outcome of asking for a model.
public enum ModelFetch: Sendable, Equatable {
    /// 304: the node already has the current version.
    case notModified
    case model(ModelDownload)
}

/// The error body every refusal carries: `{"error": code, "message": text, "current_round": n?}`.
struct CoordinatorErrorBody: Sendable, Decodable {
    var error: String
    var message: String
    var currentRound: UInt64?

    enum CodingKeys: String, CodingKey {
        case error, message
        case currentRound = "current_round"
    }
}
