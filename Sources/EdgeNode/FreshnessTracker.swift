public import FleetWire

/// Decides which of the coordinator's freshness statements a node believes, and when the coordinator counts as stale.
///
/// Why: a signed manifest proves a version genuine, not current. The
/// coordinator signs a short-lived ``FreshnessStatement`` (current version,
/// content hash, issued-at, expires-at), as TUF's timestamp role does. A node
/// that kept trusting a "current" version without such a statement could be
/// frozen on an old version forever by a coordinator that stopped (or a man in
/// the middle replaying its old answers). This struct is pure: the caller
/// verifies the signature (``ModelVerifier/verify(_:)``), passes the time,
/// and reports what it decides.
///
/// A statement is refused when it
/// - has expired: `now > expiresAt + clockSkew`;
/// - was issued in the future: `issuedAt > now + clockSkew` (the node's clock, or the coordinator's, is wrong);
/// - goes backwards: `issuedAt` earlier than the newest statement accepted (a replay);
/// - names a version below the node's floor (a rollback).
///
/// The coordinator is *stale* when the newest accepted statement has expired
/// (past the skew allowance), or — when none was ever accepted — when
/// ``gracePeriod`` has passed since the node started.
public struct FreshnessTracker: Sendable, Equatable {
    /// Seconds by which the node's and the coordinator's clocks may disagree.
    public var clockSkew: Double
    /// Seconds a node that never accepted a statement waits before it reports the coordinator stale.
    public var gracePeriod: Double
    /// The newest statement accepted.
    public private(set) var newest: FreshnessStatement?
    /// When tracking began (node start), seconds since 1970.
    public let startedAt: Double

    public init(newest: FreshnessStatement? = nil, startedAt: Double, clockSkew: Double = 300, gracePeriod: Double = 86_400) {
        self.newest = newest
        self.startedAt = startedAt
        self.clockSkew = clockSkew
        self.gracePeriod = gracePeriod
    }

    /// Accepts `statement` (already signature-checked) as the newest word on the current version.
    ///
    /// - Parameters:
    ///   - floor: the highest version the node ever installed.
    ///   - now: seconds since 1970 by the node's clock.
    /// - Throws: ``AgentError/Code/freshnessRefused``, with `check` in the context
    ///   (`expired`, `future`, `regressed`, `belowFloor`).
    public mutating func accept(_ statement: FreshnessStatement, floor: UInt64, now: Double) throws(AgentError) {
        func refuse(_ check: String, _ message: String) -> AgentError {
            AgentError(.freshnessRefused, "the coordinator's freshness statement for version \(statement.version) was refused: " + message,
                       context: ["check": check, "version": "\(statement.version)"])
        }
        guard now <= statement.expiresAt + clockSkew else {
            throw refuse("expired", "it expired \(Self.seconds(now - statement.expiresAt)) s ago (issued at \(statement.issuedAt)); "
                         + "the coordinator is frozen or its answer is replayed — check that it runs and that its clock is right")
        }
        guard statement.issuedAt <= now + clockSkew else {
            throw refuse("future", "it was issued \(Self.seconds(statement.issuedAt - now)) s in the future; check this node's clock and the coordinator's")
        }
        if let newest, statement.issuedAt < newest.issuedAt {
            throw refuse("regressed", "it was issued at \(statement.issuedAt), before the statement already seen (issued at \(newest.issuedAt)); "
                         + "an old answer is being replayed")
        }
        guard statement.version >= floor else {
            throw refuse("belowFloor", "it names version \(statement.version), below version \(floor) which this node already installed; "
                         + "a rollback is being attempted")
        }
        newest = statement
    }

    /// Whether the node has gone without a valid statement for longer than allowed.
    public func isStale(now: Double) -> Bool {
        if let newest { return now > newest.expiresAt + clockSkew }
        return now - startedAt > gracePeriod
    }

    /// The version the newest statement names, if it is still valid at `now`.
    public func currentVersion(now: Double) -> UInt64? {
        guard let newest, !isStale(now: now) else { return nil }
        return newest.version
    }

    /// Whole seconds for a message; any finite span, however large, without trapping.
    static func seconds(_ span: Double) -> String {
        abs(span) < 1e15 ? String(Int(span)) : String(span)
    }
}
