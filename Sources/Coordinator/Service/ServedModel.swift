import Foundation
import FleetWire

/// A version as `GET /v1/model` serves it: the zstd-compressed checkpoint and
/// the headers that let a node check it before use.
public struct ServedModel: Sendable {
    public let version: UInt64
    /// `"v<version>"`, quoted as an HTTP entity tag.
    public let etag: String
    /// `sha256:<hex>` of the checkpoint (the manifest's content hash).
    public let contentHash: String
    /// ``contentHash`` quoted: the tag a node names when it holds weights no
    /// manifest has vouched for yet (the policy it was provisioned with).
    public var contentTag: String { "\"" + contentHash + "\"" }
    /// The safetensors checkpoint, zstd compressed.
    public let compressedCheckpoint: [UInt8]
    /// Base64 of the manifest's canonical bytes.
    public let manifestBase64: String
    /// Base64 of the Ed25519 signature over them (nil for an unsigned candidate).
    public let signatureBase64: String?

    init(version: PublishedVersion, checkpoint: [UInt8]) throws(CoordinatorError) {
        self.version = version.number
        etag = Self.etag(for: version.number)
        contentHash = version.manifest.contentHash
        do {
            compressedCheckpoint = try Zstd.compress(checkpoint)
        } catch {
            throw CoordinatorError(.storage, "cannot compress the checkpoint of version \(version.number): \(error.message)")
        }
        manifestBase64 = Data(version.manifestBytes).base64EncodedString()
        signatureBase64 = version.signature.map { Data($0).base64EncodedString() }
    }

    /// The entity tag of a version.
    public static func etag(for version: UInt64) -> String { "\"v\(version)\"" }
}
