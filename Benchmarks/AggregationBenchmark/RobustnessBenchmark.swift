import Aggregation
import DrivingSimulator
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork

/// The robustness test's round on the full gold suite.
///
/// Twenty nodes send real EdgeLearner lessons (`Tests/AggregationRobustnessTests/Lessons`,
/// node i sends lesson i mod L); every fifth node scales its update ×100 and
/// flips its sign. The round is aggregated with the plain per-expert mean,
/// with the trimmed mean and with the median (both with norm clipping at
/// twice the median honest norm), and every result is driven on all 240
/// episodes of the gold suite beside the clean round (all nodes honest, FedAvg).
///
///     swift run -c release aggregation-benchmark --robustness [--nodes 20]
enum RobustnessBenchmark {
    static func run(nodes: Int) async throws {
        guard let content = SimulatorContent.locate() else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "run from the repository (Simulator/ not found)"])
        }
        let lessons = content.root.deletingLastPathComponent()
            .appendingPathComponent("Tests/AggregationRobustnessTests/Lessons")
        let base = try BasePolicy.load(from: content)
        let layout = ModelLayout(policy: base)
        let files = try FileManager.default.contentsOfDirectory(atPath: lessons.path).filter { $0.hasSuffix(".fldelta.zst") }.sorted()
        let lessonDeltas = try files.map { try DeltaCodec.decodeCompressed([UInt8](Data(contentsOf: lessons.appendingPathComponent($0)))) }
        let honest = (0..<nodes).map { node in
            var delta = lessonDeltas[node % lessonDeltas.count]
            delta.nodeID = "node-\(node)"
            return delta
        }
        let poisoned = Set(stride(from: 0, to: nodes, by: 5))
        let norms = honest.map { delta in
            delta.tensors.reduce(0.0) { total, tensor in tensor.denseValues().reduce(total) { $0 + Double($1) * Double($1) } }.squareRoot()
        }
        let clipNorm = 2 * norms.sorted()[norms.count / 2]

        func aggregate(_ withPoison: Bool, _ configuration: AggregationConfiguration) throws -> AggregateResult {
            var aggregator = try RoundAggregator(layout: layout, configuration: configuration, currentVersion: 1, round: 1)
            for (node, delta) in honest.enumerated() {
                let sent = withPoison && poisoned.contains(node) ? PoisonedUpdate.make(from: delta) : delta
                try aggregator.add(DeltaCodec.scanCompressed(DeltaCodec.encodeCompressed(sent)))
            }
            return try aggregator.finalize()
        }

        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let suite = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
        func score(_ model: MoEPolicy, _ name: String) async throws -> Double {
            try await PolicyEvaluation.evaluate(model, suite: suite, library: library, name: name).overall.collisionFreePercent
        }
        print("Robustness: \(nodes) nodes, \(poisoned.count) poisoned (×100, sign-flipped), \(lessonDeltas.count) distinct lessons (\(files.joined(separator: ", ")))")
        print("gold-v\(suite.version), \(suite.episodes.count) episodes; clip norm \(String(format: "%.3f", clipNorm)) (twice the median honest norm)")
        print()
        print("| round | aggregation | gold collision-free % | vs clean (points) |")
        print("| --- | --- | ---: | ---: |")
        let baseScore = try await score(base, "base")
        print("| — | base policy (no round) | \(String(format: "%.1f", baseScore)) | |")
        // No bound, clip or cap unless a row names it: each row measures its rule alone.
        let unbounded = AggregationConfiguration(normBound: nil, clipNorm: nil, sampleCap: nil)
        let clean = try await score(apply(try aggregate(false, unbounded).meanDelta, to: base), "clean")
        print("| clean (all honest) | weighted mean (FedAvg) | \(String(format: "%.1f", clean)) | 0.0 |")
        let cases: [(String, AggregationConfiguration)] = [
            ("weighted mean, no defence", unbounded),
            ("weighted mean + clipping", AggregationConfiguration(normBound: nil, clipNorm: clipNorm, sampleCap: nil)),
            ("trimmed mean (25 %) + clipping", AggregationConfiguration(rule: .trimmedMean(fraction: 0.25), normBound: nil, clipNorm: clipNorm, sampleCap: nil)),
            ("median + clipping", AggregationConfiguration(rule: .median, normBound: nil, clipNorm: clipNorm, sampleCap: nil)),
        ]
        for (label, configuration) in cases {
            let value = try await score(apply(try aggregate(true, configuration).meanDelta, to: base), label)
            print("| 20 % poisoned | \(label) | \(String(format: "%.1f", value)) | \(String(format: "%+.1f", value - clean)) |")
        }
    }

    /// `base` plus the averaged change.
    static func apply(_ meanDelta: [String: [Float]], to base: MoEPolicy) throws -> MoEPolicy {
        var parameters = base.parameterSet()
        for (name, change) in meanDelta {
            let tensor = parameters[name]!
            var scalars = tensor.scalars
            for index in scalars.indices { scalars[index] += change[index] }
            try parameters.replace(name, with: Tensor(shape: tensor.shape, scalars: scalars))
        }
        return try MoEPolicy(architecture: base.architecture, parameters: parameters)
    }
}
