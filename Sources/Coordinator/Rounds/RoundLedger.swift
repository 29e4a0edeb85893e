import Synchronization

/// Where the rounds' per-node facts live: when each node was last heard
/// from, who is invited to which round, and whose update a round took.
///
/// Why not in ``RoundStateMachine``: those facts grow with the fleet, and a
/// coordinator's memory must not (`BENCHMARKS.md`, "Coordinator under load").
/// The state machine keeps counts and asks the ledger the per-node
/// questions; the coordinator's ledger answers them from its database
/// (``StoredRoundLedger``), tests from memory (``InMemoryRoundLedger``).
///
/// Every method is called from one isolation domain at a time (the
/// coordinator's actor), in the order the events happened.
public protocol RoundLedger: AnyObject, Sendable {
    /// `node` was heard from at `time`. Returns when it was heard from
    /// before (nil: never), so the caller can tell a node coming back.
    func noteSeen(_ node: String, at time: Double) -> Double?
    /// How many nodes were heard from at or after `time`.
    func liveCount(since time: Double) -> Int
    /// Invites to `round` the nodes heard from at or after `time` that
    /// `sampler` picks, offering them in ascending order of their ids.
    /// Returns how many were invited.
    func invite(round: UInt64, liveSince time: Double, sampler: inout ParticipantSampler) -> Int
    func isInvited(_ node: String, to round: UInt64) -> Bool
    func hasSent(_ node: String, in round: UInt64) -> Bool
    /// Makes sure the ledger holds that `round` took `node`'s update. (The
    /// coordinator's store has already written it, with the update's body,
    /// before folding it in; there this is a no-op.)
    func recordAccepted(_ node: String, in round: UInt64, at time: Double)
    /// The invited nodes of `round` that sent an update or were heard from
    /// at or after `time`, and the oldest last-heard time among those heard from.
    func reachableParticipants(of round: UInt64, aliveSince time: Double) -> (count: Int, oldestAlive: Double?)
    /// Counts the invited nodes of `round` as heard from at `time` (after a
    /// restart, so a restart alone never closes a round early).
    func refreshParticipants(of round: UInt64, at time: Double)
}

/// Picks `count` of `total` offered items, each subset equally likely,
/// reproducibly from a seed, remembering nothing but two counters
/// (selection sampling, Knuth's Algorithm S). Items must be offered in a
/// fixed order (ascending ids) for the choice to be reproducible.
public struct ParticipantSampler: Sendable {
    public let count: Int
    public let total: Int
    private let seed: UInt64
    private var offered = 0
    private var picked = 0

    public init(choosing count: Int, of total: Int, seed: UInt64) {
        precondition(count >= 0 && count <= total, "cannot choose \(count) of \(total)")
        self.count = count
        self.total = total
        self.seed = seed
    }

    /// Whether the next offered item is picked.
    public mutating func pickNext() -> Bool {
        guard offered < total, picked < count else { return false }
        let remaining = UInt64(total - offered)
        let needed = UInt64(count - picked)
        let draw = RoundStateMachine.mix(seed, UInt64(offered)) % remaining
        offered += 1
        if draw < needed {
            picked += 1
            return true
        }
        return false
    }
}

/// A ``RoundLedger`` in memory: for tests and small in-process fleets.
public final class InMemoryRoundLedger: RoundLedger {
    private struct State {
        var lastSeen: [String: Double] = [:]
        var invited: [UInt64: Set<String>] = [:]
        var accepted: [UInt64: [String]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public func noteSeen(_ node: String, at time: Double) -> Double? {
        state.withLock { state in
            defer { state.lastSeen[node] = max(time, state.lastSeen[node] ?? time) }
            return state.lastSeen[node]
        }
    }

    public func liveCount(since time: Double) -> Int {
        state.withLock { $0.lastSeen.values.count { $0 >= time } }
    }

    public func invite(round: UInt64, liveSince time: Double, sampler: inout ParticipantSampler) -> Int {
        state.withLock { state in
            let live = state.lastSeen.filter { $0.value >= time }.keys.sorted()
            let chosen = live.filter { _ in sampler.pickNext() }
            state.invited[round] = Set(chosen)
            return chosen.count
        }
    }

    public func isInvited(_ node: String, to round: UInt64) -> Bool {
        state.withLock { $0.invited[round]?.contains(node) ?? false }
    }

    public func hasSent(_ node: String, in round: UInt64) -> Bool {
        state.withLock { $0.accepted[round]?.contains(node) ?? false }
    }

    public func recordAccepted(_ node: String, in round: UInt64, at time: Double) {
        state.withLock { state in
            if !(state.accepted[round]?.contains(node) ?? false) { state.accepted[round, default: []].append(node) }
        }
    }

    public func reachableParticipants(of round: UInt64, aliveSince time: Double) -> (count: Int, oldestAlive: Double?) {
        state.withLock { state in
            var count = 0
            var oldest: Double?
            let sent = Set(state.accepted[round] ?? [])
            for node in state.invited[round] ?? [] {
                if let seen = state.lastSeen[node], seen >= time {
                    count += 1
                    oldest = min(oldest ?? seen, seen)
                } else if sent.contains(node) {
                    count += 1
                }
            }
            return (count, oldest)
        }
    }

    public func refreshParticipants(of round: UInt64, at time: Double) {
        state.withLock { state in
            for node in state.invited[round] ?? [] { state.lastSeen[node] = max(time, state.lastSeen[node] ?? time) }
        }
    }

    /// The invited nodes of `round`, sorted.
    public func participants(of round: UInt64) -> [String] {
        state.withLock { ($0.invited[round] ?? []).sorted() }
    }

    /// The nodes whose updates `round` took, in order.
    public func accepted(in round: UInt64) -> [String] {
        state.withLock { $0.accepted[round] ?? [] }
    }
}
