import Coordinator
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import PolicyNetwork

/// One trainer that gets every capture the fleet learned from in a round,
/// pooled in one place: the centralized baseline.
///
/// Each round it learns the captures one after another on its own model —
/// the same synthesis, teacher and lesson settings as a node, every expert
/// free to train, nothing compressed or averaged, since nothing crosses a
/// wire — checking each lesson on fresh episodes as a node does and keeping
/// the longest step that passes before learning the next capture on top of
/// it. The round's result faces the same gate as the fleet's candidate:
/// promoted only if no family regresses.
struct CentralizedTrainer: Sendable {
    var policy: MoEPolicy
    /// The serving model's report on the gate's suite.
    var report: EvaluationReport
    let gate: RegressionGate
    /// The gate's verdict each round ("none" when there was nothing to learn).
    var rounds: [CentralizedRound] = []

    init(base: MoEPolicy, gate: RegressionGate) async throws {
        policy = base
        self.gate = gate
        report = try await gate.evaluate(base, name: "centralized")
    }

    /// Learns from `captures` (the round's pooled lessons) and gates the result.
    mutating func learn(captures: [Capture], settings: FleetSimulationConfiguration, library: ScenarioLibrary, round: Int) async throws {
        guard !captures.isEmpty else {
            rounds.append(CentralizedRound(verdict: "none", captures: 0))
            return
        }
        var candidate = policy
        var kept = 0
        for (index, capture) in captures.enumerated() {
            var configuration = settings.lessonLearner(node: -1 - index, round: round)
            configuration.adaptation.maxExperts = candidate.architecture.experts
            configuration.labelling.concurrency = 2
            let learner = EdgeLearner(configuration: configuration, scenarios: library)
            let anchor = try await FleetSimulation.anchor(for: candidate, library: library, settings: settings)
            let adaptation = try await learner.adapt(captures: [capture], base: candidate, anchor: anchor)
            if let check = try await FleetSimulation.lessonCheck(for: candidate, library: library, guardrail: gate.guardrail, settings: settings) {
                guard let passed = try await check.review(local: adaptation.local, base: candidate) else { continue }
                candidate = passed.model
            } else {
                candidate = adaptation.local
            }
            kept += 1
        }
        guard kept > 0 else {
            rounds.append(CentralizedRound(verdict: "withheld", captures: captures.count, lessonsKept: 0))
            return
        }
        let (verdict, candidateReport) = try await gate.judge(candidate: candidate, current: report)
        rounds.append(CentralizedRound(
            verdict: verdict.verdict, captures: captures.count, lessonsKept: kept, candidateScore: verdict.candidateScore,
            reasons: verdict.reasons))
        if verdict.verdict == "promoted" {
            policy = candidate
            report = candidateReport
        }
    }
}

/// What the centralized trainer's round did.
public struct CentralizedRound: Sendable, Codable, Equatable {
    /// The gate's verdict on its candidate, none (no captures this round), or
    /// withheld (its own check on fresh episodes failed every lesson).
    public var verdict: String
    /// Captures pooled into its lessons.
    public var captures: Int
    /// Lessons that passed its own check and were learned on top of each other.
    public var lessonsKept: Int?
    /// The candidate's gate score (collision-free %).
    public var candidateScore: Double?
    /// Why the gate rejected it.
    public var reasons: [String] = []
}
