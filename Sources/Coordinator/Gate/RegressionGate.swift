public import DrivingSimulator
import FleetEvaluation
public import FleetWire
public import PolicyNetwork

/// Decides whether a candidate model may replace the current one.
///
/// Both drive the gold-standard suite in the simulator under the guardrail.
/// The candidate is promoted only if no scenario family's collision-free rate
/// falls by more than `tolerance` points and the guardrail does not have to
/// step in more often in any family; otherwise it is rejected and the reasons
/// name each family and its numbers. An aggregate that helped the fleet
/// overall but made fog worse does not ship.
public struct RegressionGate: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Most collision-free percentage points any family may lose.
        public var tolerance: Double
        /// Most extra guardrail interventions per episode any family may need.
        public var interventionTolerance: Double
        /// Whether a passing candidate waits for an operator's approval.
        public var requiresApproval: Bool
        /// Collision-free points the whole suite must gain, if set: with a
        /// per-family tolerance wide enough for the knife-edge episodes any
        /// change of weights flips, this keeps a candidate that is worse
        /// overall from shipping on the tolerance alone.
        public var minimumGain: Double?
        /// Whether a round whose whole aggregate is rejected has its updates
        /// screened: each judged alone, and the candidate rebuilt from the
        /// largest set of them that passes together (see
        /// `CoordinatorService.screen`). Never with differential privacy:
        /// judging one update alone would reveal more of it than the noise allows.
        public var screensUpdates: Bool
        /// Most collision-free points any family may have lost against the
        /// fleet's first version, if set. The per-round `tolerance` lets each
        /// promotion give a family a few knife-edge episodes; without a bound
        /// on the sum, a family the fleet rarely meets drifts down round after
        /// round. A family already further down than this may not lose more
        /// (it may stay, or come back up).
        public var driftTolerance: Double?
        /// If set, a family's tolerance shrinks to this many binomial standard
        /// errors of its current collision rate, 100·√(p(1−p)/n) points (p at
        /// least 1/n), when that is below `tolerance`. A family that fails 4
        /// episodes of 96 has few knife-edge episodes to flip, so losing 4
        /// more is a real regression; one that fails half of them flips
        /// several with any change.
        public var toleranceStandardErrors: Double?
        /// If set, a family's net loss is also judged against its paired
        /// flips (McNemar): with `b` episodes the candidate newly crashes in
        /// and `c` it newly drives clean, the family fails when b − c ≥ this
        /// many √(b + c). Where many knife-edge episodes flip both ways a net
        /// loss of one is churn; where one episode flips and only for the
        /// worse — ice, which the model almost always drives clean — it is a
        /// regression, however small against the tolerance.
        public var flipStandardErrors: Double?
        /// If set, a family's drift tolerance shrinks to this many binomial
        /// standard errors of the fleet's first version's collision rate
        /// (see ``toleranceStandardErrors``), and the drift is bounded even
        /// without ``driftTolerance``. A family the first version drives
        /// almost clean — ice, 4 failures in 96 — then may not end a single
        /// episode worse, while one that fails half its episodes keeps room
        /// for the knife-edge episodes any change flips.
        public var driftStandardErrors: Double?

        public init(
            tolerance: Double = 2, interventionTolerance: Double = 0.05, requiresApproval: Bool = false, minimumGain: Double? = nil,
            screensUpdates: Bool = true, driftTolerance: Double? = nil, toleranceStandardErrors: Double? = nil,
            flipStandardErrors: Double? = nil, driftStandardErrors: Double? = nil
        ) {
            self.tolerance = tolerance
            self.interventionTolerance = interventionTolerance
            self.requiresApproval = requiresApproval
            self.minimumGain = minimumGain
            self.screensUpdates = screensUpdates
            self.driftTolerance = driftTolerance
            self.toleranceStandardErrors = toleranceStandardErrors
            self.flipStandardErrors = flipStandardErrors
            self.driftStandardErrors = driftStandardErrors
        }

        /// Whether the gate holds families to the fleet's first version at all.
        public var boundsDrift: Bool { driftTolerance != nil || driftStandardErrors != nil }

        /// Most collision-free points `family` may have lost against the first version, `first` (nil: unbounded).
        public func driftTolerance(for first: FamilyScore) -> Double? {
            guard let driftStandardErrors else { return driftTolerance }
            let bySpread = driftStandardErrors * Self.standardErrorPoints(first)
            return min(driftTolerance ?? bySpread, bySpread)
        }

        /// 100·√(p(1−p)/n) for a family's collision rate p (at least 1/n) over its n episodes.
        static func standardErrorPoints(_ family: FamilyScore) -> Double {
            let n = Double(max(family.episodes, 1))
            let p = max(family.collisionRate, 1 / n)
            return 100 * (p * (1 - p) / n).squareRoot()
        }

        /// Whether `flips` of one family are a loss beyond their churn (see ``flipStandardErrors``).
        public func isRegression(_ flips: EpisodeFlips) -> Bool {
            guard let flipStandardErrors, flips.newlyCrashed > flips.newlyClean else { return false }
            return Double(flips.newlyCrashed - flips.newlyClean) >= flipStandardErrors * Double(flips.newlyCrashed + flips.newlyClean).squareRoot()
        }

        /// Most collision-free points `family` may lose from where it stands.
        public func tolerance(for family: FamilyScore) -> Double {
            guard let toleranceStandardErrors, family.episodes > 0 else { return tolerance }
            return min(tolerance, toleranceStandardErrors * Self.standardErrorPoints(family))
        }
    }

    public let configuration: Configuration
    public let suite: GoldSuite
    public let suiteName: String
    public let library: ScenarioLibrary
    public let guardrail: Guardrail

    public init(configuration: Configuration = Configuration(), suite: GoldSuite, suiteName: String, library: ScenarioLibrary, guardrail: Guardrail) {
        self.configuration = configuration
        self.suite = suite
        self.suiteName = suiteName
        self.library = library
        self.guardrail = guardrail
    }

    /// The current model's evaluation, to reuse across candidates of the same version.
    public func evaluate(_ policy: MoEPolicy, name: String) async throws -> EvaluationReport {
        try await PolicyEvaluation.evaluate(policy, suite: suite, library: library, name: name, guardrail: guardrail)
    }

    /// Evaluates `candidate` and compares it with `current`'s report (and,
    /// for the drift tolerance, with `reference`'s: the fleet's first version).
    public func judge(
        candidate: MoEPolicy, current: EvaluationReport, reference: EvaluationReport? = nil
    ) async throws -> (summary: GateSummary, report: EvaluationReport) {
        let report = try await evaluate(candidate, name: "candidate")
        return (decide(current: current, candidate: report, reference: reference), report)
    }

    /// The verdict for reports of the same suite.
    public func decide(current: EvaluationReport, candidate: EvaluationReport, reference: EvaluationReport? = nil) -> GateSummary {
        let candidateByFamily = Dictionary(uniqueKeysWithValues: candidate.families.map { ($0.family, $0) })
        let flipsByFamily = configuration.flipStandardErrors == nil ? [:] : EpisodeFlips.byFamily(from: current, to: candidate)
        let referenceByFamily = Dictionary(uniqueKeysWithValues: (reference?.families ?? []).map { ($0.family, $0) })
        var families: [GateSummary.Family] = []
        var reasons: [String] = []
        let minimumGain = configuration.minimumGain
        for before in current.families {
            guard let after = candidateByFamily[before.family] else {
                reasons.append("\(before.family): the candidate was not evaluated on this family")
                continue
            }
            families.append(GateSummary.Family(
                family: before.family, episodes: before.episodes,
                currentCollisionRate: before.collisionRate, candidateCollisionRate: after.collisionRate,
                currentInterventions: before.interventionsPerEpisode, candidateInterventions: after.interventionsPerEpisode
            ))
            let lost = before.collisionFreePercent - after.collisionFreePercent
            let tolerance = configuration.tolerance(for: before)
            if lost > tolerance {
                reasons.append("\(before.family): collision-free fell from \(percent(before.collisionFreePercent)) to \(percent(after.collisionFreePercent)) (tolerance \(percent(tolerance)) points)")
            }
            if let flips = flipsByFamily[before.family], configuration.isRegression(flips) {
                reasons.append("\(before.family): episodes newly crashing \(flips.newlyCrashed), newly clean \(flips.newlyClean) (a net loss of at least \(configuration.flipStandardErrors ?? 0) standard errors of the flips)")
            }
            if lost > 0, let first = referenceByFamily[before.family], let drift = configuration.driftTolerance(for: first),
               first.collisionFreePercent - after.collisionFreePercent > drift {
                reasons.append("\(before.family): collision-free would fall to \(percent(after.collisionFreePercent)), below the fleet's first version's \(percent(first.collisionFreePercent)) (drift tolerance \(percent(drift)) points)")
            }
            let extra = after.interventionsPerEpisode - before.interventionsPerEpisode
            if extra > configuration.interventionTolerance {
                reasons.append("\(before.family): guardrail interventions rose from \(rate(before.interventionsPerEpisode)) to \(rate(after.interventionsPerEpisode)) per episode")
            }
        }
        if let minimumGain {
            let gain = candidate.overall.collisionFreePercent - current.overall.collisionFreePercent
            if !(gain > minimumGain) {
                reasons.append("the whole suite's collision-free rate went from \(percent(current.overall.collisionFreePercent)) to \(percent(candidate.overall.collisionFreePercent)) (it must gain more than \(percent(minimumGain)) points)")
            }
        }
        let verdict = !reasons.isEmpty ? "rejected" : configuration.requiresApproval ? "awaiting_approval" : "promoted"
        return GateSummary(
            verdict: verdict, suite: suiteName,
            currentScore: current.overall.collisionFreePercent, candidateScore: candidate.overall.collisionFreePercent,
            families: families, reasons: reasons
        )
    }

    private func percent(_ value: Double) -> String { String(Double((value * 10).rounded() / 10)) }
    private func rate(_ value: Double) -> String { String(Double((value * 100).rounded() / 100)) }
}

/// How one family's episodes changed between two reports of the same suite, episode by episode.
public struct EpisodeFlips: Sendable, Equatable {
    /// Episodes the second report crashes in and the first did not.
    public var newlyCrashed: Int
    /// Episodes the first report crashed in and the second does not.
    public var newlyClean: Int

    public init(newlyCrashed: Int = 0, newlyClean: Int = 0) {
        self.newlyCrashed = newlyCrashed
        self.newlyClean = newlyClean
    }

    /// Per family, the episodes (matched by id) that flipped from `before` to `after`.
    public static func byFamily(from before: EvaluationReport, to after: EvaluationReport) -> [String: EpisodeFlips] {
        let crashedBefore = Dictionary(before.episodes.map { ($0.id, $0.crashed) }, uniquingKeysWith: { first, _ in first })
        var flips: [String: EpisodeFlips] = [:]
        for episode in after.episodes {
            guard let was = crashedBefore[episode.id], was != episode.crashed else { continue }
            if episode.crashed { flips[episode.family, default: EpisodeFlips()].newlyCrashed += 1 } else { flips[episode.family, default: EpisodeFlips()].newlyClean += 1 }
        }
        return flips
    }
}
