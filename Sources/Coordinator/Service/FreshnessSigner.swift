import FleetWire
import Logging
import SecureTransport
import Synchronization

/// Signs the coordinator's short-lived statement of which version is current.
///
/// Why: nodes learn the current version from heartbeat replies; a signed
/// manifest cannot tell them that an answer is *recent*. The statement
/// (``FreshnessStatement``: version, content hash, issued-at, expires-at)
/// is signed with the model-signing key and expires after
/// ``CoordinatorConfiguration/freshnessValidity`` (24 h by default), so a
/// frozen coordinator or a replayed answer is noticed by the nodes once its
/// statement runs out, even while no new version is promoted for days.
///
/// One statement is reused until the current version changes or it has aged
/// past a quarter of its validity (at most an hour): signing once per
/// heartbeat of a thousand nodes would buy nothing, and a statement issued at
/// most an hour ago leaves a node at least ~¾ of the validity before it
/// could expire.
final class FreshnessSigner: Sendable {
    /// How long a statement is valid, in seconds.
    let validity: Double
    private let signingKey: PrivateKey
    private let logger: Logger
    private let cached: Mutex<(statement: FreshnessStatement, signed: SignedFreshness)?> = Mutex(nil)

    init(signingKey: PrivateKey, validity: Double, logger: Logger) {
        self.signingKey = signingKey
        self.validity = validity
        self.logger = logger
    }

    /// How old the reused statement may grow before a new one is signed.
    var refreshAge: Double { min(validity / 4, 3_600) }

    /// The signed statement that `version` (whose checkpoint hashes to `contentHash`) is current at `now`;
    /// nil when signing fails (logged — nodes then report the coordinator stale rather than trust an unsigned answer).
    func statement(version: UInt64, contentHash: String, now: Double) -> SignedFreshness? {
        cached.withLock { cached in
            if let entry = cached, entry.statement.version == version, entry.statement.contentHash == contentHash,
               now >= entry.statement.issuedAt, now - entry.statement.issuedAt < refreshAge {
                return entry.signed
            }
            let statement = FreshnessStatement(version: version, contentHash: contentHash, issuedAt: now, expiresAt: now + validity)
            do {
                let bytes = try statement.canonicalBytes()
                let signed = SignedFreshness(statementBytes: bytes, signature: try ModelSignature.sign(bytes, with: signingKey))
                cached = (statement, signed)
                return signed
            } catch {
                logger.error("cannot sign the freshness statement", metadata: ["version": "\(version)", "error": "\(error)"])
                return nil
            }
        }
    }
}
