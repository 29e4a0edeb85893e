import Foundation

/// The coordinator's signed word on which version is current, valid for a short time.
///
/// Why: a manifest's signature proves a version is genuine, not that it is
/// still the newest. A coordinator that is frozen (or a man in the middle
/// replaying its old answers) can keep naming an old "current" version with
/// valid signatures forever. Like the timestamp role of TUF (The Update
/// Framework, as used by Uptane), the coordinator re-signs a small statement —
/// current version, its content hash, issued-at and expires-at — with the
/// model-signing key every few hours, even when the version does not change. A
/// node refuses a statement that has expired, that is older than one it has
/// already seen, or that names a version below the highest it ever installed,
/// and reports the coordinator as stale when no fresh statement has come for
/// longer than the last one's validity.
///
/// The JSON (`Protocols/model-format.md`, "Freshness statement"):
///
///     {"content_hash":"sha256:…","expires_at":1767312000,"format":"fleet-freshness/1",
///      "issued_at":1767225600,"version":20}
///
/// Times are seconds since 1970-01-01T00:00:00Z. The `format` differs from a
/// manifest's, so a signature over one can never pass for the other.
public struct FreshnessStatement: Sendable, Equatable, Codable {
    /// The statement format identifier, `fleet-freshness/1`.
    public static let currentFormat = "fleet-freshness/1"

    public var format: String
    /// The version nodes should run.
    public var version: UInt64
    /// `sha256:<hex>` of that version's checkpoint (its manifest's content hash).
    public var contentHash: String
    /// When the coordinator signed this statement, in seconds since 1970.
    public var issuedAt: Double
    /// After this time (seconds since 1970) the statement says nothing.
    public var expiresAt: Double

    public init(version: UInt64, contentHash: String, issuedAt: Double, expiresAt: Double) {
        format = Self.currentFormat
        self.version = version
        self.contentHash = contentHash
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case format, version
        case contentHash = "content_hash"
        case issuedAt = "issued_at"
        case expiresAt = "expires_at"
    }

    /// The canonical bytes that are signed: JSON with sorted keys, no extra spaces.
    public func canonicalBytes() throws(FleetWireError) -> [UInt8] {
        try SignedJSON.canonicalBytes(of: self, naming: "freshness statement")
    }

    /// Parses and checks a statement's signed bytes.
    public static func decode(_ bytes: some Collection<UInt8>, maxBytes: Int = 4_096) throws(FleetWireError) -> FreshnessStatement {
        let statement = try SignedJSON.decode(FreshnessStatement.self, from: bytes, maxBytes: maxBytes, naming: "freshness statement")
        guard statement.format == currentFormat else {
            throw FleetWireError(
                .unsupportedVersion, "freshness statement format \(statement.format) is not supported (expected \(currentFormat))")
        }
        guard statement.contentHash.hasPrefix("sha256:"), statement.contentHash.count == 71 else {
            throw FleetWireError(.invalidField, "the freshness statement's content_hash must be sha256:<64 hex digits>")
        }
        guard statement.issuedAt.isFinite, statement.expiresAt.isFinite, statement.expiresAt > statement.issuedAt else {
            throw FleetWireError(.invalidField, "the freshness statement's expires_at must be a time after its issued_at")
        }
        return statement
    }
}

/// A ``FreshnessStatement`` as it travels: its exact signed bytes and the
/// Ed25519 signature over them, both base64 (the `freshness` member of a
/// heartbeat reply).
public struct SignedFreshness: Sendable, Equatable, Codable {
    /// Base64 of the statement's canonical bytes.
    public var statement: String
    /// Base64 of the model-signing key's Ed25519 signature over those bytes.
    public var signature: String

    public init(statement: String, signature: String) {
        self.statement = statement
        self.signature = signature
    }

    public init(statementBytes: [UInt8], signature: [UInt8]) {
        statement = Data(statementBytes).base64EncodedString()
        self.signature = Data(signature).base64EncodedString()
    }

    /// The signed bytes, or nil when ``statement`` is not base64.
    public var statementBytes: [UInt8]? { Data(base64Encoded: statement).map(Array.init) }
    /// The signature, or nil when ``signature`` is not base64.
    public var signatureBytes: [UInt8]? { Data(base64Encoded: signature).map(Array.init) }
}
