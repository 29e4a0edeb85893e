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
///
/// The check drives one family at a time and stops at the first family that
/// fails: most lessons that are withheld fail early, and a node's time goes
/// to learning rather than to driving the rest of a verdict already known.
struct LessonCheck: Sendable {
    /// The gate's rules over each family's check episodes (without the whole-suite gain).
    let families: [RegressionGate]
    /// The model the nodes run, on each family's check episodes (one set of reports per version).
    let baselines: [EvaluationReport]
    /// Collision-free points the lesson must gain over all the check's episodes, if any.
    let minimumGain: Double?
    /// Steps tried, longest first (1 is the lesson as trained).
    static let steps: [Float] = [1, 0.5, 0.25]
    /// Keeps the check's episodes apart from the gold suite's, the anchor's and the training sets' seeds.
    static let baseSeed: UInt64 = 0xC4EC_0001

    /// The check for nodes running `policy`: `episodesPerFamily` fresh episodes of every family.
    init(
        policy: MoEPolicy, episodesPerFamily: Int, library: ScenarioLibrary, guardrail: Guardrail,
        gate configuration: RegressionGate.Configuration, minimumGain: Double? = nil
    ) async throws {
        // Each family is judged alone, at the gate's whole false-rejection rate:
        // a node holds its own lesson to more than the gate holds the aggregate.
        var perFamily = configuration
        perFamily.boundsDrift = false
        self.minimumGain = minimumGain
        let families = library.scenarios.map { scenario in
            let episodes = (0..<episodesPerFamily).map { ScenarioBuilder.episode(scenario, index: $0, baseSeed: Self.baseSeed) }
            return RegressionGate(
                configuration: perFamily,
                suite: GoldSuite(version: 0, description: "a node's check episodes of \(scenario.family)", episodes: episodes),
                suiteName: "node-check", library: library, guardrail: guardrail)
        }
        var checks: [(gate: RegressionGate, baseline: EvaluationReport)] = []
        for gate in families { checks.append((gate, try await gate.evaluate(policy, name: "current"))) }
        // The families the model fails most are where a lesson most often breaks something: drive them first.
        checks.sort { $0.baseline.overall.collisionRate > $1.baseline.overall.collisionRate }
        self.families = checks.map(\.gate)
        self.baselines = checks.map(\.baseline)
    }

    /// Passes `model`, or the reasons it fails: family by family, stopping at the first that fails.
    func judge(_ model: MoEPolicy) async throws -> [String] {
        // Collision-free episodes won (or lost) over all families, counted, not summed as percentages.
        var won = 0, episodes = 0
        for (gate, baseline) in zip(families, baselines) {
            let (verdict, report) = try await gate.judge(candidate: model, current: baseline)
            if verdict.verdict == "rejected" { return verdict.reasons }
            won += Self.collisionFree(report) - Self.collisionFree(baseline)
            episodes += baseline.overall.episodes
        }
        let gain = 100 * Double(won) / Double(max(episodes, 1))
        if let minimumGain, !(gain > minimumGain) {
            return ["the check's episodes gained \(Double((gain * 10).rounded() / 10)) collision-free points (it must gain more than \(minimumGain))"]
        }
        return []
    }

    static func collisionFree(_ report: EvaluationReport) -> Int {
        Int((report.overall.collisionFreePercent * Double(report.overall.episodes) / 100).rounded())
    }

    /// What the check decided about one lesson.
    struct Outcome: Sendable {
        /// The delta to send (nil: withheld) and the trial it carries.
        var delta: PolicyDelta?
        var trial: Trial?
        /// Why the last trial failed, when the lesson is withheld.
        var reasons: [String]
    }

    /// One way of sending part of a lesson: base + step · (local − base),
    /// over every trained expert or only `expert`.
    struct Trial: Sendable, Equatable, CustomStringConvertible {
        var step: Float
        var expert: Int?
        var description: String { expert.map { "step \(step) of expert \($0) alone" } ?? "step \(step)" }
    }

    /// The trials for a lesson whose most-used trained expert is `leading`,
    /// in the order they are tried: the whole lesson at each of ``steps``,
    /// then, when it trained more than one expert, the leading expert alone.
    /// The experts a family's scenes share with other families' carry most of
    /// a lesson's side effects; its own leading expert often carries the fix.
    static func trials(leading: Int?) -> [Trial] {
        steps.map { Trial(step: $0) } + (leading.map { expert in steps.prefix(2).map { Trial(step: $0, expert: expert) } } ?? [])
    }

    /// The first trial towards `local` whose compressed delta passes;
    /// `delta` builds what the node would send for a model. The
    /// compressor's error feedback advances only for the delta that is sent.
    /// `leading` is the lesson's most-used trained expert, when it trained several.
    func review(
        local: MoEPolicy, base: MoEPolicy, leading: Int? = nil, compressor: inout DeltaCompressor,
        delta: (MoEPolicy, inout DeltaCompressor) throws -> PolicyDelta
    ) async throws -> Outcome {
        let start = compressor
        let (passed, reasons) = try await firstPassingTrial(towards: local, from: base, leading: leading) { model in
            var trial = start
            let sent = try delta(model, &trial)
            return ((sent, trial), try DeltaApplier.apply(sent, to: base))
        }
        guard let passed else { return Outcome(delta: nil, trial: nil, reasons: reasons) }
        compressor = passed.candidate.1
        return Outcome(delta: passed.candidate.0, trial: passed.trial, reasons: [])
    }

    /// Tries each of ``trials(leading:)``: `make` turns a model into what
    /// would be shipped and the model it amounts to, which is judged.
    /// Returns the first that passes, or the reasons the last one failed.
    private func firstPassingTrial<Candidate>(
        towards local: MoEPolicy, from base: MoEPolicy, leading: Int?, make: (MoEPolicy) throws -> (Candidate, MoEPolicy)
    ) async throws -> (passed: (candidate: Candidate, trial: Trial)?, reasons: [String]) {
        var reasons: [String] = []
        for trial in Self.trials(leading: leading) {
            let target = try trial.expert.map { try DeltaShrinking.keepingOnly(expert: $0, base: base, local: local) } ?? local
            let model = trial.step < 1 ? try DeltaShrinking.interpolate(base: base, local: target, fraction: trial.step) : target
            let (candidate, judged) = try make(model)
            reasons = try await judge(judged)
            if reasons.isEmpty { return ((candidate, trial), []) }
        }
        return (nil, reasons)
    }
}
