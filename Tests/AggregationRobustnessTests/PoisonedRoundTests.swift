import DrivingSimulator
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork
import Testing
import Aggregation

/// One round of 20 nodes, 4 of which (20 %) send their update scaled ×100
/// and sign-flipped, aggregated three ways and driven on the gold suite —
/// for each of the five placements of the poisoners, since which experts
/// their lessons touch decides how much harm a plain mean lets through.
///
/// Honest updates are real EdgeLearner lessons against the committed base
/// policy (`Lessons/`, made by `aggregation-benchmark --make-lessons`): node i
/// sends lesson i mod L, as nodes of a region meet the same edge case. The
/// clean run is the same round with every node honest, averaged with FedAvg.
/// The gold score is collision-free % on a fixed stratified subset of
/// the gold suite (eight episodes per family) so the test stays quick in a debug
/// build; `aggregation-benchmark --robustness` runs the full suite.
@Suite("robust aggregation against poisoned updates")
struct PoisonedRoundTests {
    static let content = SimulatorContent.locate(from: URL(fileURLWithPath: #filePath))!
    static let lessons = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Lessons")
    static let nodes = 20
    static let episodesPerFamily = 8

    @Test("wherever the four poisoners sit, trimmed mean + clipping stays within 5 gold points of the clean round; the plain mean does not")
    func poisonedRound() async throws {
        let library = try ScenarioLibrary.load(directory: Self.content.scenarios)
        let suite = try PoisonedRound.stratifiedGold(content: Self.content, library: library, perFamily: Self.episodesPerFamily)
        let honest = try PoisonedRound(lessons: Self.lessons, nodes: Self.nodes, poisonerOffset: 0)
        func score(_ result: AggregateResult, _ name: String) async throws -> Double {
            let model = try PoisonedRound.apply(result.meanDelta, to: honest.base)
            return try await PolicyEvaluation.evaluate(model, suite: suite, library: library, name: name).overall.collisionFreePercent
        }
        let clean = try honest.aggregate(poisoned: false, configuration: AggregationConfiguration(normBound: nil, clipNorm: nil, sampleCap: nil))
        let cleanScore = try await score(clean, "clean")
        // Which experts a poisoned update hits decides how much the plain mean suffers, so every
        // placement of the poisoners is tried (nodes offset, offset + 5, …: lesson i mod L each).
        var worstPlainDrop = 0.0
        for offset in 0..<5 {
            let round = try PoisonedRound(lessons: Self.lessons, nodes: Self.nodes, poisonerOffset: offset)
            #expect(round.poisoned.count == Self.nodes / 5)
            let plain = try round.aggregate(poisoned: true, configuration: AggregationConfiguration(normBound: nil, clipNorm: nil, sampleCap: nil))
            let robust = try round.aggregate(
                poisoned: true,
                configuration: AggregationConfiguration(rule: .trimmedMean(fraction: 0.25), normBound: nil, clipNorm: round.clipNorm))

            // The aggregates themselves: the robust one stays near the clean one, the plain one is thrown far off.
            let robustDistance = PoisonedRound.distance(robust.meanDelta, clean.meanDelta)
            let plainDistance = PoisonedRound.distance(plain.meanDelta, clean.meanDelta)
            #expect(robust.clippedUpdates >= round.poisoned.count)
            #expect(robustDistance < plainDistance / 10)

            // And what that does to driving.
            let robustScore = try await score(robust, "robust")
            let plainScore = try await score(plain, "plain")
            print("poisoners at \(round.poisoned.sorted()): gold subset (\(suite.episodes.count) episodes): clean \(cleanScore) %, trimmed mean + clipping \(robustScore) %, plain mean \(plainScore) %")
            #expect(abs(robustScore - cleanScore) <= 5, "poisoners at \(round.poisoned.sorted()): robust \(robustScore) vs clean \(cleanScore)")
            worstPlainDrop = max(worstPlainDrop, cleanScore - plainScore)
        }
        #expect(worstPlainDrop > 5, "the plain mean lost at most \(worstPlainDrop) points wherever the poisoners sat")
    }
}

/// The round of the robustness test: honest lessons, their poisoned copies, the aggregation.
struct PoisonedRound {
    let base: MoEPolicy
    let layout: ModelLayout
    /// Each node's honest update, in node order.
    let honest: [PolicyDelta]
    /// The nodes that poison their update.
    let poisoned: Set<Int>
    /// The clip bound an operator would set from past rounds: twice the median honest norm.
    let clipNorm: Double

    /// `nodes` nodes, every fifth from `poisonerOffset` on poisoning its update.
    init(lessons directory: URL, nodes: Int, poisonerOffset: Int) throws {
        let content = SimulatorContent.locate(from: directory)!
        base = try BasePolicy.load(from: content)
        layout = ModelLayout(policy: base)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".fldelta.zst") }.sorted()
        let lessons = try files.map { file in
            try DeltaCodec.decodeCompressed([UInt8](Data(contentsOf: directory.appendingPathComponent(file))))
        }
        precondition(!lessons.isEmpty, "no lessons in \(directory.path)")
        honest = (0..<nodes).map { node in
            var delta = lessons[node % lessons.count]
            delta.nodeID = "node-\(node)"
            return delta
        }
        poisoned = Set(stride(from: poisonerOffset, to: nodes, by: 5))
        let norms = honest.map { delta in
            delta.tensors.reduce(0.0) { total, tensor in tensor.denseValues().reduce(total) { $0 + Double($1) * Double($1) } }.squareRoot()
        }
        clipNorm = 2 * norms.sorted()[norms.count / 2]
    }

    /// Every node's update goes over the wire (zstd container) and through the aggregator's scan path.
    func aggregate(poisoned withPoison: Bool, configuration: AggregationConfiguration) throws -> AggregateResult {
        var aggregator = try RoundAggregator(layout: layout, configuration: configuration, currentVersion: 1, round: 1)
        for (node, delta) in honest.enumerated() {
            let sent = withPoison && poisoned.contains(node) ? PoisonedUpdate.make(from: delta) : delta
            try aggregator.add(DeltaCodec.scanCompressed(DeltaCodec.encodeCompressed(sent)))
        }
        return try aggregator.finalize()
    }

    /// ‖a − b‖ over the union of tensors (absent = zero).
    static func distance(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
        var total = 0.0
        for name in Set(a.keys).union(b.keys) {
            let x = a[name], y = b[name]
            let count = max(x?.count ?? 0, y?.count ?? 0)
            for index in 0..<count {
                let difference = Double(x?[index] ?? 0) - Double(y?[index] ?? 0)
                total += difference * difference
            }
        }
        return total.squareRoot()
    }

    /// `base` plus the averaged change (FedAvg with server learning rate 1).
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

    /// The first `perFamily` gold episodes of each family.
    static func stratifiedGold(content: SimulatorContent, library: ScenarioLibrary, perFamily: Int) throws -> GoldSuite {
        let full = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
        var taken: [String: Int] = [:]
        let episodes = full.episodes.filter { episode in
            taken[episode.family, default: 0] += 1
            return taken[episode.family]! <= perFamily
        }
        return GoldSuite(version: full.version, description: "gold subset, \(perFamily) per family", episodes: episodes)
    }
}
