import Logging
import Foundation
import Aggregation
import FleetWire

extension CoordinatorService {
    /// Picks up the rounds that were unfinished when the coordinator stopped.
    ///
    /// The rule (documented in `Protocols/coordinator-state.md`):
    /// - a round whose candidate was already recorded as a version is closed
    ///   with that version's outcome (nothing is aggregated twice);
    /// - a round based on an older version than the one now current is
    ///   abandoned (its updates no longer apply);
    /// - otherwise the round resumes: every acknowledged update body is read
    ///   back (hash-checked), decoded and folded again in arrival order. A
    ///   collecting round keeps collecting until its original deadline (its
    ///   invited nodes count as alive for one heartbeat timeout); a
    ///   round that had closed is aggregated and gated again. An update whose
    ///   body is missing or no longer valid is dropped and audited.
    func recoverUnfinishedRounds(at now: Double) throws(CoordinatorError) {
        let unfinished = try store.unfinishedRounds()
        guard !unfinished.isEmpty else { return }
        let byRound = Dictionary(
            try registry.all().compactMap { version in version.manifest.round.map { ($0, version) } },
            uniquingKeysWith: { first, _ in first }
        )
        for row in unfinished {
            let number = UInt64(clamping: row.number)
            if let version = byRound[number] {
                var closed = row
                closed.status = switch version.status {
                case .published: .published
                case .awaitingApproval: .awaitingApproval
                case .rejected: .rejected
                }
                try store.save(closed)
                dropUpdateBodies(of: number)
                try store.audit("round", subject: "\(number)", detail: "closed on restart: version \(version.number) was already recorded", at: now)
                continue
            }
            let asynchronous = configuration.rounds.mode != .synchronous
            if !asynchronous && UInt64(clamping: row.baseVersion) != state.currentVersion {
                var abandoned = row
                abandoned.status = .abandoned
                abandoned.reason = "restart: the round was based on version \(row.baseVersion), version \(state.currentVersion) is current"
                try store.save(abandoned)
                dropUpdateBodies(of: number)
                try store.audit("round", subject: "\(number)", detail: abandoned.reason!, at: now)
                continue
            }
            var round = RoundStateMachine.Round(
                number: number, baseVersion: UInt64(clamping: row.baseVersion), openedAt: row.openedAt,
                invitedCount: row.invitedCount.map(Int.init)
            )
            var aggregator = try makeAggregator(for: round)
            // Read one at a time; the few that cannot be folded again are
            // quarantined afterwards: a poison never stops the coordinator.
            var dropped: [(node: String, hash: String, reason: String)] = []
            try store.forEachAcceptedUpdate(round: number) { node, hash in
                do throws(CoordinatorError) {
                    try refold(hash, into: &aggregator)
                    round.acceptedCount += 1
                } catch {
                    dropped.append((node, hash, error.message))
                }
            }
            for (node, hash, reason) in dropped {
                let kept = blobs.quarantine(hash)
                try store.removeAcceptedUpdate(round: number, node: node)
                let detail = "quarantined on restart from round \(number): \(reason)"
                    + (kept.map { "; its body is kept at \($0.path)" } ?? "")
                try store.audit("update", subject: node, detail: detail, at: now)
                logger.warning(
                    "update quarantined", metadata: ["round": "\(number)", "node": "\(node)", "reason": "\(reason)"])
            }
            aggregators[number] = aggregator
            if row.status == .collecting && state.collecting == nil {
                // The invited nodes get one heartbeat timeout to reconnect
                // before the quorum counts them as gone, so a restart alone
                // never closes a round early.
                state.resumeCollecting(round, at: now)
            } else {
                _ = state.resumeFinishing(round)
                var closing = row
                closing.status = .aggregating
                try store.save(closing)
                pendingFinishing.append(round)
            }
            try store.audit(
                "round", subject: "\(number)",
                detail: "resumed on restart with \(round.acceptedCount) acknowledged updates re-folded" + (dropped.isEmpty ? "" : ", \(dropped.count) quarantined"),
                at: now
            )
            logger.info("round resumed", metadata: ["round": "\(number)", "updates": "\(round.acceptedCount)", "status": "\(row.status.rawValue)"])
        }
    }

    /// Reads an acknowledged update's body back (hash-checked), decodes it and folds it in again.
    nonisolated func refold(_ hash: String, into aggregator: inout RoundAggregator) throws(CoordinatorError) {
        let delta = try Self.decode(try blobs.get(hash), limits: configuration.deltaLimits)
        do { try aggregator.add(delta) } catch { throw Self.map(error) }
    }
}
