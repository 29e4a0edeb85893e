import Logging
import Metrics
import Aggregation
import DrivingSimulator
import FleetWire
import PolicyNetwork

extension CoordinatorService {
    /// Aggregates and gates every closed round, one at a time.
    func finishPendingRounds() async {
        guard !isFinishing else { return }
        isFinishing = true
        defer { isFinishing = false }
        while !pendingFinishing.isEmpty {
            let round = pendingFinishing.removeFirst()
            await finish(round)
        }
    }

    /// Aggregation, candidate, gate, version — for one closed round.
    func finish(_ round: RoundStateMachine.Round) async {
        let started = ContinuousClock.now
        let parent = state.currentVersion
        let aggregate: AggregateResult
        do throws(CoordinatorError) {
            guard let aggregator = aggregators.removeValue(forKey: round.number) else {
                throw CoordinatorError(.storage, "round \(round.number) has no running aggregate")
            }
            aggregate = try Self.finalize(aggregator, contributors: try store.contributors(of: round.number))
        } catch {
            perform(state.aggregationFailed(round: round.number, reason: error.message), at: clock.now())
            return
        }
        metrics.aggregationSeconds.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
        _ = state.aggregationFinished(round: round.number)
        mark(round, .gating)

        // The gate drives the gold suite; other requests are served meanwhile.
        let gateStarted = ContinuousClock.now
        var chosen: GatedCandidate
        do {
            let current: EvaluationReport
            if let cached = currentReport, cached.version == parent {
                current = cached.report
            } else {
                current = try await gate.evaluate(currentPolicy, name: "v\(parent)")
                currentReport = (parent, current)
            }
            try await loadReferenceReport(current: current, parent: parent)
            chosen = try await gated(aggregate, round: round.number, parent: parent, current: current)
            if chosen.summary.verdict == "rejected", aggregate.updateCount > 1, configuration.gate.screensUpdates,
               configuration.aggregation.privacy == nil, let screened = await screen(round, parent: parent, current: current) {
                chosen = screened
            }
        } catch let error as CoordinatorError {
            perform(state.aggregationFailed(round: round.number, reason: error.message), at: clock.now())
            return
        } catch {
            perform(state.aggregationFailed(round: round.number, reason: "the gate could not evaluate the candidate: \(error)"), at: clock.now())
            return
        }
        let (candidate, built, summary, candidateReport) = (chosen.built.policy, chosen.built, chosen.summary, chosen.report)
        let contributions = chosen.aggregate
        metrics.gateSeconds.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - gateStarted))
        metrics.gateVerdict(summary.verdict)

        let status: CoordinatorStore.Version.Status = switch summary.verdict {
        case "promoted": .published
        case "awaiting_approval": .awaitingApproval
        default: .rejected
        }
        let now = clock.now()
        do {
            let version = try registry.record(
                candidate, delta: built.compressedDelta, status: status, parent: parent, round: round.number,
                createdAt: Self.iso8601(now), at: now,
                contributors: contributions.contributors, families: contributions.families,
                samplesPerExpert: contributions.samplesPerExpert,
                aggregation: AggregationSummary(
                    rule: Self.describe(configuration.aggregation.rule), serverOptimizer: Self.describe(configuration.serverOptimizer),
                    updates: contributions.updateCount, clippedUpdates: contributions.clippedUpdates,
                    noiseStandardDeviation: contributions.noiseStandardDeviation
                ),
                gate: summary
            )
            if status == .published {
                try adopt(version)
                currentReport = (version.number, candidateReport)
                optimizer = chosen.optimizer
                downlink = chosen.downlink
            }
            _ = state.gateFinished(round: round.number, promotedVersion: status == .published ? version.number : nil)
            let roundStatus: CoordinatorStore.Round.Status = switch status {
            case .published: .published
            case .awaitingApproval: .awaitingApproval
            case .rejected: .rejected
            }
            mark(round, roundStatus, reason: summary.reasons.isEmpty ? nil : summary.reasons.joined(separator: "; "))
            try store.audit(
                "version", subject: "\(version.number)",
                detail: "\(status.rawValue) from round \(round.number) (\(contributions.updateCount) of \(aggregate.updateCount) updates, gold \(summary.currentScore) → \(summary.candidateScore))"
                    + (summary.reasons.isEmpty ? "" : ": " + summary.reasons.joined(separator: "; ")),
                at: now
            )
            dropUpdateBodies(of: round.number)
            metrics.roundFinished(status.rawValue)
            logger.info("round finished", metadata: [
                "round": "\(round.number)", "version": "\(version.number)", "status": "\(status.rawValue)",
                "updates": "\(contributions.updateCount)", "received": "\(aggregate.updateCount)",
            ])
        } catch {
            logger.error("cannot record the candidate", metadata: ["round": "\(round.number)", "error": "\(error.message)"])
            perform(state.gateFinished(round: round.number, promotedVersion: nil), at: now)
            abandon(round, reason: "the candidate could not be stored: \(error.message)", at: now)
        }
    }

    /// The fleet's first version on the gold suite, when the gate bounds drift from it.
    private func loadReferenceReport(current: EvaluationReport, parent: UInt64) async throws {
        guard gate.configuration.boundsDrift, referenceReport == nil else { return }
        if parent == 1 {
            referenceReport = current
        } else if let first = try registry.version(1) {
            referenceReport = try await gate.evaluate(try registry.policy(of: first), name: "v1")
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    static func describe(_ rule: AggregationConfiguration.Rule) -> String {
        switch rule {
        case .weightedMean: "weighted_mean"
        case .trimmedMean(let fraction): "trimmed_mean(\(fraction))"
        case .median: "median"
        }
    }

    static func describe(_ kind: ServerOptimizer.Kind) -> String {
        switch kind {
        case .fedAvg: "fedavg"
        case .fedAdam: "fedadam"
        case .fedYogi: "fedyogi"
        }
    }
}
