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
/// teacher and settings as a node's lesson, but every expert may train and
/// nothing is compressed, since nothing crosses a wire — and its candidate
/// faces the same gate as the fleet's: promoted only if no family regresses.
struct CentralizedTrainer: Sendable {
    var policy: MoEPolicy
    /// The serving model's report on the gate's suite.
    var report: EvaluationReport
    let gate: RegressionGate
    /// The gate's verdict each round ("none" when there was nothing to learn).
    var verdicts: [String] = []

    init(base: MoEPolicy, gate: RegressionGate) async throws {
        policy = base
        self.gate = gate
        report = try await gate.evaluate(base, name: "centralized")
    }

    /// Learns from `captures` (the round's pooled lessons) and gates the result.
    mutating func learn(captures: [Capture], settings: FleetSimulationConfiguration, library: ScenarioLibrary, round: Int) async throws {
        guard !captures.isEmpty else {
            verdicts.append("none")
            return
        }
        var configuration = settings.lessonLearner(node: -1, round: round)
        configuration.adaptation.maxExperts = policy.architecture.experts
        configuration.labelling.concurrency = 2
        let learner = EdgeLearner(configuration: configuration, scenarios: library)
        let anchor = try await FleetSimulation.anchor(for: policy, library: library, settings: settings)
        let adaptation = try await learner.adapt(captures: captures, base: policy, anchor: anchor)
        let (verdict, candidateReport) = try await gate.judge(candidate: adaptation.local, current: report)
        verdicts.append(verdict.verdict)
        if verdict.verdict == "promoted" {
            policy = adaptation.local
            report = candidateReport
        }
    }
}
