import Coordinator
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import PolicyNetwork

/// A node's own regression check before it sends a lesson.
///
/// The coordinator's gate judges the round's aggregate on the gold suite: one
/// lesson that fixes its scene but breaks what another family depends on
/// makes the whole aggregate fail and takes every other node's lesson down
/// with it. So a node first drives its lesson — the compressed delta exactly
/// as it would send it, applied to the model it runs — through fresh episodes
/// of every family at the gold suite's difficulty (seeds of its own, never
/// the gold episodes), under the guardrail, and judges it by the
/// coordinator's gate rules. If the lesson fails, shorter steps
/// base + α · (lesson − base) are tried; if none passes, the node withholds
/// the lesson rather than send a regression.
struct LessonCheck: Sendable {
    /// The gate's rules over the node's check episodes.
    let gate: RegressionGate
    /// The model the nodes run, on the check episodes (one report per version).
    let baseline: EvaluationReport
    /// Steps tried, longest first (1 is the lesson as trained).
    static let steps: [Float] = [1, 0.5, 0.25]
    /// Keeps the check's episodes apart from the gold suite's, the anchor's and the training sets' seeds.
    static let baseSeed: UInt64 = 0xC4EC_0001

    /// The check for nodes running `policy`: `episodesPerFamily` fresh episodes of every family.
    init(policy: MoEPolicy, episodesPerFamily: Int, library: ScenarioLibrary, guardrail: Guardrail, gate configuration: RegressionGate.Configuration) async throws {
        let episodes = library.scenarios.flatMap { scenario in
            (0..<episodesPerFamily).map { ScenarioBuilder.episode(scenario, index: $0, baseSeed: Self.baseSeed) }
        }
        gate = RegressionGate(
            configuration: configuration,
            suite: GoldSuite(version: 0, description: "a node's check episodes", episodes: episodes),
            suiteName: "node-check", library: library, guardrail: guardrail)
        baseline = try await gate.evaluate(policy, name: "current")
    }

    /// What the check decided about one lesson.
    struct Outcome: Sendable {
        /// The delta to send (nil: withheld) and the step it carries.
        var delta: PolicyDelta?
        var step: Float?
        /// Why the last step tried failed, when the lesson is withheld.
        var reasons: [String]
    }

    /// The longest step towards `local` whose compressed delta passes; `delta`
    /// builds what the node would send for a model. The compressor's error
    /// feedback advances only for the delta that is sent.
    func review(
        local: MoEPolicy, base: MoEPolicy, compressor: inout DeltaCompressor,
        delta: (MoEPolicy, inout DeltaCompressor) throws -> PolicyDelta
    ) async throws -> Outcome {
        var reasons: [String] = []
        for step in Self.steps {
            let model = step < 1 ? try DeltaShrinking.interpolate(base: base, local: local, fraction: step) : local
            var trial = compressor
            let sent = try delta(model, &trial)
            let (verdict, _) = try await gate.judge(candidate: try DeltaApplier.apply(sent, to: base), current: baseline)
            if verdict.verdict != "rejected" {
                compressor = trial
                return Outcome(delta: sent, step: step, reasons: [])
            }
            reasons = verdict.reasons
        }
        return Outcome(delta: nil, step: nil, reasons: reasons)
    }
}
