import Coordinator
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import PolicyNetwork

/// One trainer that gets every capture the fleet learned from in a round,
/// pooled in one place: the centralized baseline.
///
/// Each round it learns one lesson from all of them — the same synthesis,
/// teacher and settings as a node's lesson, as many optimizer steps as one
/// node's lesson, but every expert may train and nothing is compressed,
/// since nothing crosses a wire — and its candidate
/// faces the same gate as the fleet's: promoted only if no family regresses.
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
        var configuration = settings.lessonLearner(node: -1, round: round)
        configuration.adaptation.maxExperts = policy.architecture.experts
        // As many optimizer steps as one node's lesson, spread over the pooled
        // states: with every pass of every node's lesson over the pool, the
        // trainer overfits the round's scenes and breaks the fragile families.
        let epochs = configuration.adaptation.fitting.epochs
        configuration.adaptation.fitting.epochs = max(1, (epochs + captures.count - 1) / captures.count)
        configuration.labelling.concurrency = 2
        let learner = EdgeLearner(configuration: configuration, scenarios: library)
        let anchor = try await FleetSimulation.anchor(for: policy, library: library, settings: settings)
        let adaptation = try await learner.adapt(captures: captures, base: policy, anchor: anchor)
        let (verdict, candidateReport) = try await gate.judge(candidate: adaptation.local, current: report)
        rounds.append(CentralizedRound(
            verdict: verdict.verdict, captures: captures.count, candidateScore: verdict.candidateScore, reasons: verdict.reasons))
        if verdict.verdict == "promoted" {
            policy = adaptation.local
            report = candidateReport
        }
    }
}

/// What the centralized trainer's round did.
public struct CentralizedRound: Sendable, Codable, Equatable {
    /// The gate's verdict on its candidate, or none (no captures this round).
    public var verdict: String
    /// Captures pooled into its lesson.
    public var captures: Int
    /// The candidate's gate score (collision-free %).
    public var candidateScore: Double?
    /// Why the gate rejected it.
    public var reasons: [String] = []
}
