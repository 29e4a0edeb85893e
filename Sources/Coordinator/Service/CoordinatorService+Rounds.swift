import Logging
import Metrics
import Aggregation
import FleetWire

extension CoordinatorService {
    /// Carries out what the state machine decided.
    func perform(_ action: RoundStateMachine.Action, at now: Double) {
        switch action {
        case .none, .gate, .finish:
            // Gating and finishing happen inside finishRound, which drives them.
            break
        case .openRound(let round):
            do {
                aggregators[round.number] = try makeAggregator(for: round)
                try store.save(.init(
                    number: round.number, baseVersion: round.baseVersion, status: .collecting,
                    openedAt: round.openedAt, invitedCount: round.invitedCount
                ))
                try store.audit(
                    "round", subject: "\(round.number)",
                    detail: "opened on version \(round.baseVersion) with \(round.invitedCount.map { "\($0) invited nodes" } ?? "any node")",
                    at: now
                )
            } catch {
                logger.error("cannot open round", metadata: ["round": "\(round.number)", "error": "\(error)"])
            }
            metrics.roundsOpened.increment()
            logger.info("round opened", metadata: ["round": "\(round.number)", "participants": "\(round.invitedCount.map(String.init) ?? "any")"])
            roundOpened.signal()
        case .aggregate(let round):
            mark(round, .aggregating, closedAt: now)
            pendingFinishing.append(round)
            workQueued.signal()
        case .abandon(let round, let reason):
            abandon(round, reason: reason, at: now)
        }
    }

    func makeAggregator(for round: RoundStateMachine.Round) throws(CoordinatorError) -> RoundAggregator {
        let asynchronous = round.invitedCount == nil
        do {
            return try RoundAggregator(
                layout: ModelLayout(policy: currentPolicy), configuration: configuration.aggregation,
                currentVersion: asynchronous ? state.currentVersion : round.baseVersion,
                round: asynchronous ? nil : round.number,
                // The ledger refuses duplicates and the store keeps the contributors.
                tracksContributors: false
            )
        } catch {
            throw CoordinatorError(.invalidConfiguration, "aggregation: \(error.message)")
        }
    }

    func mark(_ round: RoundStateMachine.Round, _ status: CoordinatorStore.Round.Status, closedAt: Double? = nil, reason: String? = nil) {
        do {
            try store.save(.init(
                number: round.number, baseVersion: round.baseVersion, status: status, openedAt: round.openedAt,
                closedAt: closedAt ?? (try? store.round(round.number))??.closedAt, invitedCount: round.invitedCount, reason: reason
            ))
        } catch {
            logger.error("cannot store round", metadata: ["round": "\(round.number)", "error": "\(error.message)"])
        }
    }

    func abandon(_ round: RoundStateMachine.Round, reason: String, at now: Double) {
        aggregators[round.number] = nil
        mark(round, .abandoned, closedAt: now, reason: reason)
        try? store.audit("round", subject: "\(round.number)", detail: "abandoned: \(reason)", at: now)
        dropUpdateBodies(of: round.number)
        metrics.roundFinished("abandoned")
        logger.info("round abandoned", metadata: ["round": "\(round.number)", "reason": "\(reason)"])
    }

    /// Removes the stored bodies of a finished round's updates (the rows stay for the audit).
    func dropUpdateBodies(of round: UInt64) {
        let blobs = self.blobs
        do {
            try store.forEachAcceptedUpdate(round: round) { _, hash in blobs.remove(hash) }
        } catch {
            logger.warning("cannot remove the update bodies of a finished round", metadata: ["round": "\(round)", "error": "\(error.message)"])
        }
    }
}
