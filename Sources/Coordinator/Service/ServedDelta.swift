import Foundation

/// A version as a node that holds its parent downloads it: the zstd delta
/// container from the parent, with the same manifest and signature headers
/// as the checkpoint, so the node can rebuild the checkpoint and check it
/// against the signed content hash.
public struct ServedDelta: Sendable {
    public let version: UInt64
    /// The version the delta applies to.
    public let parent: UInt64
    /// `"v<version>"`, the same entity tag as the checkpoint's.
    public let etag: String
    /// The delta container (`Protocols/delta-format.md`), zstd compressed as stored.
    public let compressedDelta: [UInt8]
    /// Base64 of the manifest's canonical bytes.
    public let manifestBase64: String
    /// Base64 of the Ed25519 signature over them (nil for an unsigned candidate).
    public let signatureBase64: String?

    init(version: PublishedVersion, parent: UInt64, compressedDelta: [UInt8]) {
        self.version = version.number
        self.parent = parent
        etag = ServedModel.etag(for: version.number)
        self.compressedDelta = compressedDelta
        manifestBase64 = Data(version.manifestBytes).base64EncodedString()
        signatureBase64 = version.signature.map { Data($0).base64EncodedString() }
    }

    /// The media type of a delta body, beside `application/octet-stream` for checkpoints.
    public static let contentType = "application/vnd.fleet.model-delta"
}

/// What `GET /v1/model` answers a node, given the version it holds.
public enum ModelAnswer: Sendable {
    /// The node holds the current version (304).
    case notModified(etag: String)
    /// The node holds the current version's parent: the change alone.
    case delta(ServedDelta)
    /// Anything else: the whole checkpoint.
    case checkpoint(ServedModel)
}
