import Aggregation
import DrivingSimulator
import FleetWire
import Logging

/// A candidate built from some of a round's updates, with the gate's verdict on it.
struct GatedCandidate {
    /// What the updates add up to (its contributors are the updates used).
    var aggregate: AggregateResult
    var built: Candidate
    /// The server optimizer and the downlink as they stand if this candidate is published.
    var optimizer: ServerOptimizer
    var downlink: StepCompressor
    var summary: GateSummary
    var report: EvaluationReport

    var passes: Bool { summary.verdict != "rejected" }
}

extension CoordinatorService {
    /// The aggregate of a finished aggregator, naming its contributors.
    static func finalize(_ aggregator: RoundAggregator, contributors: [String]) throws(CoordinatorError) -> AggregateResult {
        var aggregate: AggregateResult
        do {
            aggregate = try aggregator.finalize()
        } catch {
            throw CoordinatorError(.invalidUpdate, error.message)
        }
        // The aggregator keeps no per-node list; the caller knows them, in arrival order.
        aggregate.contributors = contributors
        return aggregate
    }

    /// Builds the candidate of `aggregate` on the current model and has the gate judge it against `current`.
    func gated(_ aggregate: AggregateResult, round: UInt64, parent: UInt64, current: EvaluationReport) async throws -> GatedCandidate {
        var trialOptimizer = optimizer
        var trialDownlink = downlink
        let step = trialOptimizer.step(aggregate.meanDelta)
        let built = try CandidateBuilder.build(
            base: currentPolicy, baseVersion: parent, round: round, step: step, aggregate: aggregate,
            downlink: &trialDownlink, limits: configuration.deltaLimits)
        let (summary, report) = try await gate.judge(candidate: built.policy, current: current, reference: referenceReport)
        return GatedCandidate(
            aggregate: aggregate, built: built, optimizer: trialOptimizer, downlink: trialDownlink, summary: summary, report: report)
    }

    /// Looks for the part of a rejected round that passes the gate.
    ///
    /// One update that breaks a family takes a whole averaged round down with
    /// it, and the lessons of every other node are lost. So, when the round's
    /// aggregate is rejected, each update is judged alone (as a round of its
    /// own would build it); those that pass are added one at a time, best
    /// first, and an update stays only if the candidate with it still passes
    /// and scores no lower. The result is the largest such set found greedily
    /// — at most 2n gate runs for n updates, each a drive of the suite — and
    /// the candidate names every update it left out and why. Nil when no
    /// update passes alone (the round stays rejected) or when a trial fails.
    func screen(_ round: RoundStateMachine.Round, parent: UInt64, current: EvaluationReport) async -> GatedCandidate? {
        do {
            var stored: [(node: String, hash: String)] = []
            try store.forEachAcceptedUpdate(round: round.number) { stored.append(($0, $1)) }
            // Each body is read back and decoded once, not once per trial.
            let updates = try stored.map { (node: $0.node, delta: try Self.decode(try blobs.get($0.hash), limits: configuration.deltaLimits)) }
            var leftOut: [String: [String]] = [:]
            var alone: [(index: Int, trial: GatedCandidate)] = []
            for (index, update) in updates.enumerated() {
                let trial = try await gated(updates: [update], round: round, parent: parent, current: current)
                if trial.passes { alone.append((index, trial)) } else { leftOut[update.node] = trial.summary.reasons }
            }
            alone.sort { ($0.trial.summary.candidateScore, -$0.index) > ($1.trial.summary.candidateScore, -$1.index) }
            guard var best = alone.first?.trial, var kept = alone.first.map({ [$0.index] }) else {
                logger.info("screened round: no update passes alone", metadata: ["round": "\(round.number)", "updates": "\(updates.count)"])
                return nil
            }
            for (index, _) in alone.dropFirst() {
                let together = (kept + [index]).sorted()
                let trial = try await gated(updates: together.map { updates[$0] }, round: round, parent: parent, current: current)
                if trial.passes && trial.summary.candidateScore >= best.summary.candidateScore {
                    (kept, best) = (together, trial)
                } else {
                    leftOut[updates[index].node] = trial.passes
                        ? ["passes alone, but with the updates kept the suite scores \(trial.summary.candidateScore) instead of \(best.summary.candidateScore)"]
                        : ["passes alone, but not with the updates kept: " + trial.summary.reasons.joined(separator: "; ")]
                }
            }
            best.summary.leftOut = updates.compactMap { update in
                leftOut[update.node].map { GateSummary.LeftOutUpdate(node: update.node, reasons: $0) }
            }
            logger.info("screened round", metadata: [
                "round": "\(round.number)", "updates": "\(updates.count)", "kept": "\(kept.count)",
                "score": "\(best.summary.candidateScore)",
            ])
            return best
        } catch {
            logger.error("cannot screen the round's updates", metadata: ["round": "\(round.number)", "error": "\(error)"])
            return nil
        }
    }

    /// The gated candidate of a round built from `updates` alone.
    private func gated(
        updates: [(node: String, delta: ScannedDelta)], round: RoundStateMachine.Round, parent: UInt64, current: EvaluationReport
    ) async throws -> GatedCandidate {
        var aggregator = try makeAggregator(for: round)
        for update in updates {
            do { try aggregator.add(update.delta) } catch { throw Self.map(error) }
        }
        let aggregate = try Self.finalize(aggregator, contributors: updates.map(\.node))
        return try await gated(aggregate, round: round.number, parent: parent, current: current)
    }
}
