import ArgumentParser
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import Foundation
import PolicyNetwork

/// Trains the base policy and writes it (with its note) to `Simulator/models/`.
struct TrainBase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-base", abstract: "Train the fleet's base policy from the teacher (behaviour cloning + DAgger).")

    @Option(help: "Episodes per family of ordinary driving.") var episodes = 40
    @Option(help: "Difficulty knob for the ordinary episodes (0 easy … 1 hard).") var difficulty = 0.0
    @Option(help: "DAgger iterations (the first is behaviour cloning).") var iterations = 4
    @Option(help: "Epochs over the aggregate per iteration.") var epochs = 8
    @Option(help: "Output directory (default: Simulator/models).") var output: String?
    @Option(help: "Seed of the weights' initialization and the shuffling (the ceiling is reported over several).") var seed: UInt64 = 1
    @Option(help: "Experts (a capacity check; the fleet's network has 8).") var experts = PolicyArchitecture.driving.experts
    @Option(help: "Hidden width of each expert (a capacity check; the fleet's network has 128).") var hidden = PolicyArchitecture.driving.hidden
    @Flag(help: "The teacher's labels keep to Simulator/rules/guardrail.json (the best action the rules let through).") var rulesAwareLabels = false

    func run() async throws {
        guard let content = SimulatorContent.locate() else { throw ValidationError("Run from the repository (Simulator/ not found).") }
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        var configuration = BasePolicyTrainer.Configuration()
        configuration.driving.episodesPerFamily = episodes
        configuration.driving.difficulty = difficulty
        configuration.labelling.iterations = iterations
        configuration.fitting.epochs = epochs
        configuration.seed = seed
        if rulesAwareLabels { configuration.rules = try Guardrail.load(contentsOf: content.guardrailRules) }
        let driving = PolicyArchitecture.driving
        configuration.architecture = try PolicyArchitecture(
            inputs: driving.inputs, experts: experts, hidden: hidden, topK: min(driving.topK, experts), actions: driving.actions,
            activation: driving.activation)
        let clock = ContinuousClock()
        let start = clock.now
        let (policy, log) = try await BasePolicyTrainer(configuration: configuration).train(library: library) { print($0) }
        let seconds = (clock.now - start).components.seconds
        let suite = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
        let gold = try await PolicyEvaluation.evaluate(policy, suite: suite, library: library, name: "base")
        print(gold.table())
        let directory = output.map { URL(fileURLWithPath: $0) } ?? BasePolicy.directory(in: content)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var metadata = configuration.description
        metadata["fleet.model"] = "base"
        try policy.save(to: directory.appendingPathComponent(BasePolicy.fileName).path, extraMetadata: metadata)
        var note: [String: Any] = [
            "model": "base-policy",
            "file": BasePolicy.fileName,
            "architecture": policy.architecture.canonicalString,
            "architecture_hash": policy.architecture.hash,
            "parameters": policy.parameterCount,
            "multiply_adds_per_decision": policy.architecture.multiplyAddsPerDecision,
            "command": "swift run -c release edge-learning-benchmark train-base --episodes \(episodes) --difficulty \(difficulty) --iterations \(iterations) --epochs \(epochs)"
                + (experts == driving.experts ? "" : " --experts \(experts)") + (hidden == driving.hidden ? "" : " --hidden \(hidden)")
                + (rulesAwareLabels ? " --rules-aware-labels" : "") + (seed == 1 ? "" : " --seed \(seed)"),
            "method": "behaviour cloning on teacher-driven ordinary episodes (iteration 0, beta 1), then DAgger: beta halves each iteration, the teacher labels every state the mixture visits, all parameters refitted on the aggregate",
            "data": "every scenario family, \(episodes) episodes each at difficulty \(difficulty), seeds mix(\(configuration.driving.baseSeed), i), disjoint from the gold suite (scenario seeds) and from held-out capture variations",
            "configuration": configuration.description,
            "training_seconds": seconds,
            "gold_collision_free_percent": gold.overall.collisionFreePercent,
            "gold_per_family": Dictionary(uniqueKeysWithValues: gold.families.map { ($0.family, $0.collisionFreePercent) }),
            "iterations": log.map { ["beta": $0.beta, "samples": $0.totalSamples, "rollout_failure_rate": $0.failureRate, "loss": Double($0.loss)] },
        ]
        note["samples"] = log.last?.totalSamples ?? 0
        let data = try JSONSerialization.data(withJSONObject: note, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent(BasePolicy.manifestName))
        print("wrote \(directory.appendingPathComponent(BasePolicy.fileName).path) in \(seconds) s of training")
    }
}
