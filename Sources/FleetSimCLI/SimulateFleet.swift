import Aggregation
import Coordinator
import ArgumentParser
import DrivingSimulator
import EdgeLearning
import FleetSimulation
import Foundation

/// `fleet-sim` (no subcommand): a whole fleet on this machine, learning round after round.
struct SimulateFleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Simulate a fleet: one coordinator and N edge nodes in this process, R rounds (the default command).")

    @OptionGroup var content: ContentOptions
    @Option(help: "Edge nodes, spread over the regions in turn.") var nodes = 24
    @Option(help: "Rounds to run.") var rounds = 10
    @Option(help: "Regions, comma separated (default: every region in Simulator/regions).") var regions: String?
    @Option(help: "Seed of everything random; the same seed gives the same final model.") var seed: UInt64 = 1
    @Option(help: "How the coordinator combines updates: weighted-mean, trimmed-mean or median.") var aggregator = "weighted-mean"
    @Option(help: "FedAvg's server learning rate.") var serverLearningRate: Float = 1
    @Option(help: "Chance the gate rejects a candidate no worse than the serving model, over all families (a paired sign test per family; 0 never rejects on collisions).")
    var gateFalseRejectionRate = 0.05
    @Option(help: "Rise in guardrail interventions per episode the gate tolerates.") var interventionTolerance = 0.5
    @Option(help: "Whether the gate also tests every family against the fleet's first version (true or false).")
    var boundDrift = true
    @Option(help: "Captures in one lesson, at most.") var maxCaptures = 1
    @Option(help: "Passes over a lesson's labelled states per DAgger iteration.") var lessonEpochs = 16
    @Option(help: "Adam step size of a lesson.") var lessonLearningRate: Float = 2e-3
    @Option(help: "Most experts a lesson trains.") var lessonExperts = 8
    @Option(help: "Share of every lesson batch replayed from ordinary driving, in [0, 1).") var lessonReplay = 0.25
    @Option(help: "DAgger iterations of a lesson.") var lessonIterations = 2
    @Option(help: "Seconds before a trigger that a capture's scene is taken (0–5).") var captureLead = 2.0
    @Option(help: "Share of each delta's values a node sends (top-k), in (0, 1].") var compression = 0.2
    @Option(help: "Share of each changed tensor the model delta nodes download keeps (int8; the rest is carried to the next version), in (0, 1].")
    var downlinkFraction = FleetSimulationConfiguration.defaultDownlink.fraction
    @Flag(name: .customLong("async"), help: "Asynchronous (buffered) rounds instead of synchronous ones.") var asynchronous = false
    @Option(help: "Share of the nodes invited to each round, in (0, 1].") var participation = 0.25
    @Option(help: "Share of nodes that send poisoned updates (×100, sign-flipped).") var poisoned = 0.0
    @Option(help: "Transport: tls (mutual TLS on 127.0.0.1 through the coordinator's HTTPS server) or in-memory (calls in this process, for very large fleets).")
    var transport = "tls"
    @Option(help: "Episodes each node drives per round.") var episodesPerRound = 2
    @Option(help: "Variations of each capture a node learns from.") var variations = 24
    @Option(help: "Where a variation starts: episode (the capture's whole episode, replayed) or snapshot (its last seconds).")
    var variationSource = "episode"
    @Option(help: "How far an episode variation moves each scenario parameter, as a share of its range.") var variationSpread = 0.27
    @Option(help: "Ordinary-driving episodes per family a lesson replays (0: none).") var anchorEpisodes = 10
    @Option(help: "Who labels the anchor's states: teacher (the replay teaches as well) or policy (it only holds what the model does).")
    var anchorLabels = "policy"
    @Option(help: "Difficulty of the anchor's episodes, 0–1, or 'scenario' for each family's own (the gold suite's).")
    var anchorDifficulty = "0.8"
    @Option(help: "Fresh episodes per family each node drives its lesson through, judged by the gate's rules, before sending it (0: no check).")
    var lessonCheckEpisodes = 96
    @Option(help: "Collision-free points a lesson must gain over a node's check episodes before it is sent (negative: no such rule).")
    var lessonCheckMinimumGain = 0.0
    @Option(help: "Gold episodes per family the gate drives (0: the full suite).") var gateEpisodes = 0
    @Flag(help: "Also run the baselines: local-only twins (one per region) and the centralized baseline (DAgger on every capture the fleet took), and the upper bound (DAgger on every family at gold difficulty).")
    var baselines = false
    @Option(help: "Start from this policy checkpoint (safetensors) instead of Simulator/models/base-policy.safetensors.")
    var seedModel: String?
    @Option(help: "Output directory (report.html, summary.json, rounds.jsonl, the final model).") var output = "fleet-sim-output"
    @Flag(help: "Print only the final summary line.") var quiet = false
    @Flag(help: "Print each round as a JSON line.") var json = false
    @Flag(help: "Run real fleet-coordinator and fleet-node processes instead of in-process ones.") var processes = false

    func run() async throws {
        if processes { try await runProcesses(); return }
        guard let transport = FleetSimulationConfiguration.Transport(rawValue: transport) else {
            throw ValidationError("unknown transport '\(transport)' (expected tls or in-memory)")
        }
        let rule: AggregationConfiguration.Rule
        switch aggregator {
        case "weighted-mean": rule = .weightedMean
        case "trimmed-mean": rule = .trimmedMean(fraction: 0.2)
        case "median": rule = .median
        default: throw ValidationError("unknown aggregator '\(aggregator)' (expected weighted-mean, trimmed-mean or median)")
        }
        guard let variationSource = VariationSynthesizer.Source(rawValue: variationSource) else {
            throw ValidationError("unknown variation source '\(variationSource)' (expected episode or snapshot)")
        }
        guard let anchorLabels = OrdinaryDriving.AnchorLabels(rawValue: anchorLabels) else {
            throw ValidationError("unknown anchor labels '\(anchorLabels)' (expected teacher or policy)")
        }
        let anchorDifficulty: Double?
        if self.anchorDifficulty == "scenario" { anchorDifficulty = nil }
        else if let value = Double(self.anchorDifficulty) { anchorDifficulty = value }
        else { throw ValidationError("anchor difficulty '\(self.anchorDifficulty)' is neither a number in [0, 1] nor 'scenario'") }
        let outputDirectory = URL(fileURLWithPath: output)
        var configuration = FleetSimulationConfiguration(
            nodes: nodes, rounds: rounds, regions: regions.map { $0.split(separator: ",").map(String.init) }, seed: seed,
            transport: transport, aggregation: AggregationConfiguration(rule: rule),
            serverOptimizer: .fedAvg(learningRate: serverLearningRate),
            gate: .init(
                falseRejectionRate: gateFalseRejectionRate, interventionTolerance: interventionTolerance, boundsDrift: boundDrift),
            compression: compression,
            asynchronous: asynchronous, participation: participation, poisonedShare: poisoned, episodesPerRound: episodesPerRound, variations: variations, variationSource: variationSource, maxCaptures: maxCaptures,
            lesson: LessonSettings(
                epochs: lessonEpochs, learningRate: lessonLearningRate, experts: lessonExperts, replay: lessonReplay,
                iterations: lessonIterations), captureLead: captureLead,
            anchorEpisodes: anchorEpisodes, anchorLabels: anchorLabels, anchorDifficulty: anchorDifficulty,
            lessonCheckEpisodes: lessonCheckEpisodes, gateEpisodesPerFamily: gateEpisodes == 0 ? nil : gateEpisodes,
            baselines: baselines,
            outputDirectory: outputDirectory, simulatorContent: try content.locate().root)
        configuration.variationSpread = variationSpread
        configuration.downlink = StepCompressor.Configuration(fraction: downlinkFraction, quantize: true)
        configuration.lessonCheckMinimumGain = lessonCheckMinimumGain < 0 ? nil : lessonCheckMinimumGain
        configuration.seedModel = seedModel.map { URL(fileURLWithPath: $0) }
        let simulation: FleetSimulation
        do { simulation = try FleetSimulation(configuration: configuration) } catch { throw ValidationError(error.message) }

        if !quiet && !json { emit("fleet-sim: \(nodes) nodes, \(rounds) rounds, seed \(seed), transport \(transport.rawValue)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let (quiet, json) = (self.quiet, self.json)
        let summary = try await simulation.run { round in
            if json, let line = try? encoder.encode(round) { emit(String(decoding: line, as: UTF8.self)) }
            else if !quiet { emit(round.line) }
        }
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let lines = try summary.rounds.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try Data(lines.utf8).write(to: outputDirectory.appendingPathComponent("rounds.jsonl"), options: .atomic)
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(summary).write(to: outputDirectory.appendingPathComponent("summary.json"), options: .atomic)
        try Data(FleetReport(summary).html().utf8).write(to: outputDirectory.appendingPathComponent("report.html"), options: .atomic)
        let before = (summary.gold?.seed.score ?? summary.goldBefore).map { String(format: "%.1f", $0) } ?? "–"
        let after = (summary.gold?.federated.score ?? summary.goldAfter).map { String(format: "%.1f", $0) } ?? "–"
        var baselines = ""
        if let gold = summary.gold, let centralized = gold.centralized {
            let local = gold.localOnly.values.map(\.score)
            baselines = String(format: " (centralized %.1f, local-only %.1f)", centralized.score, local.reduce(0, +) / Double(max(local.count, 1)))
        }
        if let gold = summary.gold, let upperBound = gold.upperBound {
            baselines += String(format: " (upper bound %.1f", upperBound.score)
                + (gold.federatedShareOfUpperBound.map { String(format: ": the fleet reached %.0f %% of its gain)", 100 * $0) } ?? ")")
        }
        print("fleet-sim: gold (whole suite) \(before) → \(after)\(baselines) after \(rounds) rounds; version \(summary.finalVersion), model \(summary.finalModelHash); \(String(format: "%.0f", summary.seconds)) s; wrote \(outputDirectory.path)")
    }
}

/// Writes a line straight to standard output: a round's line appears as the
/// round ends, also when the output is a pipe or a file that a script reads live.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
