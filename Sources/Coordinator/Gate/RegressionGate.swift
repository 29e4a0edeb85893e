import Foundation
public import DrivingSimulator
public import FleetEvaluation
public import FleetWire
public import PolicyNetwork

/// Decides whether a candidate model may replace the current one.
///
/// Both drive the gold-standard suite in the simulator under the guardrail,
/// episode for episode. Per family, the episodes where the two differ decide
/// (a paired, one-sided exact sign test, see ``PairedFamilyTest``): the
/// candidate is rejected in a family when it newly crashes in more of them
/// than chance explains at that family's share of the false-rejection rate
/// (Bonferroni over the tests made). Knife-edge episodes that any change of
/// weights flips both ways cancel out; a real loss, however small against the
/// family's size, does not. The candidate is also rejected when the guardrail
/// has to step in more often in any family, counted over the episodes both
/// models ended alike (an episode one drives clean lasts longer and gathers
/// more interventions for that alone). With the fleet's first version
/// as a reference (``Configuration/boundsDrift``), each family is also tested
/// against that version, so small losses no single round can show do not add
/// up round after round. The reasons name each family and its numbers.
public struct RegressionGate: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// α: the chance that the gate rejects a candidate that is in truth no
        /// worse than the current model in any family. Each family's test runs
        /// at α divided by the number of tests (families, twice with the drift
        /// bound). 0 never rejects on collisions; 1 with two families rejects
        /// any net loss in either (each test at ½), for suites of a few episodes.
        public var falseRejectionRate: Double
        /// Most extra guardrail interventions per episode any family may need,
        /// over the episodes both models ended alike (both clean or both crashed).
        public var interventionTolerance: Double
        /// Whether a passing candidate waits for an operator's approval.
        public var requiresApproval: Bool
        /// Whether a round whose whole aggregate is rejected has its updates
        /// screened: each judged alone, and the candidate rebuilt from the
        /// largest set of them that passes together (see
        /// `CoordinatorService.screen`). Never with differential privacy:
        /// judging one update alone would reveal more of it than the noise allows.
        public var screensUpdates: Bool
        /// Whether each family is also tested against the fleet's first version.
        public var boundsDrift: Bool

        public init(
            falseRejectionRate: Double = 0.05, interventionTolerance: Double = 0.05, requiresApproval: Bool = false,
            screensUpdates: Bool = true, boundsDrift: Bool = false
        ) {
            self.falseRejectionRate = falseRejectionRate
            self.interventionTolerance = interventionTolerance
            self.requiresApproval = requiresApproval
            self.screensUpdates = screensUpdates
            self.boundsDrift = boundsDrift
        }

        /// The level each family's test runs at when `tests` tests are made.
        public func familyLevel(tests: Int) -> Double {
            falseRejectionRate / Double(max(tests, 1))
        }

        /// Whether `test` shows a loss beyond chance at `level`.
        public static func isRegression(_ test: PairedFamilyTest, level: Double) -> Bool {
            test.newlyCrashed > test.newlyClean && test.pValue <= level
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
        let paired = PairedFamilyTest.byFamily(reference: current, candidate: candidate)
        let drifted = reference.map { PairedFamilyTest.byFamily(reference: $0, candidate: candidate) } ?? [:]
        let tests = current.families.count * (reference == nil ? 1 : 2)
        let level = configuration.familyLevel(tests: tests)
        var families: [GateSummary.Family] = []
        var reasons: [String] = []
        for before in current.families {
            guard let after = candidateByFamily[before.family] else {
                reasons.append("\(before.family): the candidate was not evaluated on this family")
                continue
            }
            let test = paired[before.family] ?? PairedFamilyTest(family: before.family, episodes: 0, newlyCrashed: 0, newlyClean: 0)
            families.append(GateSummary.Family(
                family: before.family, episodes: before.episodes,
                currentCollisionRate: before.collisionRate, candidateCollisionRate: after.collisionRate,
                currentInterventions: before.interventionsPerEpisode, candidateInterventions: after.interventionsPerEpisode,
                newlyCrashed: test.newlyCrashed, newlyClean: test.newlyClean, pValue: test.pValue
            ))
            if Configuration.isRegression(test, level: level) {
                reasons.append("\(before.family): collision-free fell from \(percent(before.collisionFreePercent)) to \(percent(after.collisionFreePercent)): \(test.newlyCrashed) episodes newly crash, \(test.newlyClean) newly clean (p = \(probability(test.pValue)), at most \(probability(level)) rejects)")
            }
            if let drift = drifted[before.family], Configuration.isRegression(drift, level: level) {
                reasons.append("\(before.family): against the fleet's first version \(drift.newlyCrashed) episodes newly crash, \(drift.newlyClean) newly clean (p = \(probability(drift.pValue)), at most \(probability(level)) rejects)")
            }
            let interventions = test.interventionsPerEpisode
            if interventions.candidate - interventions.reference > configuration.interventionTolerance {
                reasons.append("\(before.family): guardrail interventions rose from \(rate(interventions.reference)) to \(rate(interventions.candidate)) per episode over the \(test.concordant) episodes both ended alike")
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
    private func probability(_ value: Double) -> String { value < 0.0001 ? String(format: "%.1e", value) : String(format: "%.4f", value) }
}
