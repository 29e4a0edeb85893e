public import Logging
import Synchronization

/// The coordinator's ``RoundLedger``: the facts live in the database
/// (``CoordinatorStore``), so memory holds a bounded buffer of recent
/// sightings whatever the number of nodes.
///
/// Why a buffer: every request is a sighting, and one SQLite commit per
/// request (each a sync of the write-ahead log) would cost more than the
/// request. Sightings are gathered, one entry per node, and written in one
/// transaction when the buffer holds ``flushThreshold`` nodes, on every timer
/// tick (``flush()``), and before any question that reads them back. A crash
/// loses at most the sightings since the last write — only liveness, which
/// the next heartbeat restores; acknowledged updates are written by the
/// coordinator before their 202, not here.
public final class StoredRoundLedger: RoundLedger {
    public let store: CoordinatorStore
    private let logger: Logger
    private let pending = Mutex<[String: CoordinatorStore.Sighting]>([:])

    /// Sightings buffered before they are written in one transaction.
    public static let flushThreshold = 512

    public init(store: CoordinatorStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Buffers what a heartbeat reported beside the time (region, model version).
    public func noteDetails(of node: String, at time: Double, region: String?, modelVersion: UInt64?) {
        merge(node, CoordinatorStore.Sighting(time: time, region: region, modelVersion: modelVersion))
    }

    /// Writes the buffered sightings.
    public func flush() {
        let batch = pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        do {
            try store.record(batch)
        } catch {
            logger.warning("cannot record node sightings", metadata: ["nodes": "\(batch.count)", "error": "\(error.message)"])
        }
    }

    /// Buffers a sighting; returns the time the node was last seen before
    /// it, if it was in the buffer.
    @discardableResult
    private func merge(_ node: String, _ sighting: CoordinatorStore.Sighting) -> (buffered: Bool, previous: Double?) {
        let (previous, count) = pending.withLock { pending -> (CoordinatorStore.Sighting?, Int) in
            let previous = pending[node]
            pending[node] = CoordinatorStore.Sighting(
                time: max(sighting.time, previous?.time ?? sighting.time),
                region: sighting.region ?? previous?.region,
                modelVersion: sighting.modelVersion ?? previous?.modelVersion
            )
            return (previous, pending.count)
        }
        if count >= Self.flushThreshold { flush() }
        return (previous != nil, previous?.time)
    }

    // MARK: RoundLedger

    public func noteSeen(_ node: String, at time: Double) -> Double? {
        let (buffered, previous) = merge(node, CoordinatorStore.Sighting(time: time))
        if buffered { return previous }
        do {
            return try store.lastSeen(of: node)
        } catch {
            logger.warning("cannot read node", metadata: ["node": "\(node)", "error": "\(error.message)"])
            return nil
        }
    }

    public func liveCount(since time: Double) -> Int {
        flush()
        return answer("count live nodes", 0) { () throws(CoordinatorError) in try store.nodeCount(seenSince: time) }
    }

    public func invite(round: UInt64, liveSince time: Double, sampler: inout ParticipantSampler) -> Int {
        flush()
        do {
            return try store.invite(round: round, nodesSeenSince: time, sampler: &sampler)
        } catch {
            logger.error("cannot invite nodes", metadata: ["round": "\(round)", "error": "\(error.message)"])
            return 0
        }
    }

    public func isInvited(_ node: String, to round: UInt64) -> Bool {
        answer("read participants", false) { () throws(CoordinatorError) in try store.isInvited(node, to: round) }
    }

    public func hasSent(_ node: String, in round: UInt64) -> Bool {
        answer("read updates", false) { () throws(CoordinatorError) in try store.hasSent(node, in: round) }
    }

    /// The coordinator wrote the update's row (with its body's hash) before
    /// folding it in; nothing is left to record.
    public func recordAccepted(_ node: String, in round: UInt64, at time: Double) {}

    public func reachableParticipants(of round: UInt64, aliveSince time: Double) -> (count: Int, oldestAlive: Double?) {
        flush()
        return answer("count reachable participants", (0, nil)) { () throws(CoordinatorError) in
            try store.reachableParticipants(of: round, aliveSince: time)
        }
    }

    public func refreshParticipants(of round: UInt64, at time: Double) {
        flush()
        answer("refresh participants", ()) { () throws(CoordinatorError) in try store.refreshParticipants(of: round, at: time) }
    }

    /// A store answer, or `fallback` (logged) when the database fails.
    private func answer<T>(_ what: String, _ fallback: T, _ body: () throws(CoordinatorError) -> T) -> T {
        do {
            return try body()
        } catch {
            logger.error("ledger: cannot \(what)", metadata: ["error": "\(error.message)"])
            return fallback
        }
    }
}
