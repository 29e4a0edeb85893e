import Testing
import FleetWire
@testable import Aggregation

/// A two-expert model: router [2, 3] + [2]; each expert a [4, 3] weight.
let layout = ModelLayout(
    architecture: "test-arch",
    tensors: [
        ("router.weight", [2, 3]), ("router.bias", [2]),
        ("experts.0.fc1.weight", [4, 3]), ("experts.1.fc1.weight", [4, 3]),
    ]
)

func update(
    node: String,
    expert: Int = 0,
    values: [Float],
    counts: [UInt64] = [10, 0],
    round: UInt64 = 1,
    base: UInt64 = 5,
    families: [String] = ["fog"]
) -> PolicyDelta {
    PolicyDelta(
        architecture: "test-arch", baseVersion: base, round: round, nodeID: node,
        tensors: [TensorDelta(name: "experts.\(expert).fc1.weight", shape: [4, 3], payload: .dense(values))],
        routingCounts: counts,
        metadata: DeltaMetadata(
            families: families, samples: Int(clamping: counts.reduce(0) { $0.addingReportingOverflow($1).overflow ? .max : $0 + $1 }),
            captures: 1)
    )
}

func constant(_ value: Float) -> [Float] { [Float](repeating: value, count: 12) }

@Suite("per-expert federated averaging")
struct WeightedMeanTests {
    @Test("an expert's tensors are averaged with the samples each node routed to it")
    func weightedByRoutingCounts() throws {
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        try aggregator.add(update(node: "a", values: constant(1), counts: [30, 0]))
        try aggregator.add(update(node: "b", values: constant(5), counts: [10, 7]))
        let result = try aggregator.finalize()
        // (30·1 + 10·5) / 40 = 2
        #expect(result.meanDelta["experts.0.fc1.weight"] == constant(2))
        // Nobody touched expert 1 or the router: they stay as they are.
        #expect(result.meanDelta["experts.1.fc1.weight"] == nil)
        #expect(result.meanDelta["router.weight"] == nil)
        #expect(result.samplesPerExpert == [40, 7])
        #expect(result.contributors == ["a", "b"])
        #expect(result.families == ["fog": 2])
    }

    @Test("sparse int8 updates fold in exactly as their decoded values")
    func sparseFoldsLikeDense() throws {
        let sparse = TensorDelta(
            name: "experts.1.fc1.weight", shape: [4, 3],
            payload: .sparseInt8(scales: [0.5, 0, 0.25, 1], indices: [0, 2, 7, 9, 11], values: [2, -4, 8, 127, -1])
        )
        let dense = TensorDelta(name: "experts.1.fc1.weight", shape: [4, 3], payload: .dense(sparse.denseValues()))
        func aggregate(_ tensor: TensorDelta) throws -> [Float]? {
            var aggregator = try RoundAggregator(
                layout: layout, configuration: .init(normBound: nil, clipNorm: nil), currentVersion: 5, round: 1)
            try aggregator.add(PolicyDelta(
                architecture: "test-arch", baseVersion: 5, round: 1, nodeID: "n", tensors: [tensor],
                routingCounts: [0, 3], metadata: DeltaMetadata()
            ))
            return try aggregator.finalize().meanDelta["experts.1.fc1.weight"]
        }
        #expect(try aggregate(sparse) == aggregate(dense))
        #expect(try aggregate(sparse) == [1, 0, -2, 0, 0, 0, 0, 2, 0, 127, 0, -1])
    }

    @Test("stale updates count less, by (1 + τ)^−½")
    func stalenessWeighting() throws {
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 8, round: nil)
        try aggregator.add(update(node: "fresh", values: constant(0), counts: [10, 0], base: 8))
        try aggregator.add(update(node: "old", values: constant(3), counts: [10, 0], base: 5))
        let mean = try #require(try aggregator.finalize().meanDelta["experts.0.fc1.weight"])
        // weights 10 and 10/2: (0 + 5·3) / 15 = 1
        #expect(abs(mean[0] - 1) < 1e-6)
    }

    @Test("norm clipping bounds what one node can do")
    func clipping() throws {
        var aggregator = try RoundAggregator(
            layout: layout, configuration: AggregationConfiguration(clipNorm: 1), currentVersion: 5, round: 1
        )
        try aggregator.add(update(node: "huge", values: constant(100)))
        let result = try aggregator.finalize()
        let mean = try #require(result.meanDelta["experts.0.fc1.weight"])
        let norm = mean.map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(abs(norm - 1) < 1e-4)
        #expect(result.clippedUpdates == 1)
    }

    @Test("the largest proposal of a new expert wins")
    func additions() throws {
        func proposing(_ node: String, samples: UInt64) -> PolicyDelta {
            var delta = update(node: node, values: constant(0), counts: [5, 0, samples])
            delta.tensors.append(TensorDelta(name: "experts.2.fc1.weight", role: .addition, shape: [4, 3], payload: .dense(constant(Float(samples)))))
            return delta
        }
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        try aggregator.add(proposing("small", samples: 10))
        try aggregator.add(proposing("large", samples: 90))
        try aggregator.add(proposing("medium", samples: 40))
        let result = try aggregator.finalize()
        #expect(result.additionProposer == "large")
        #expect(result.additions.first?.denseValues() == constant(90))
    }
}

@Suite("update validation")
struct ValidationTests {
    @Test("bad updates are refused with the code that names the problem, and change nothing")
    func refusals() throws {
        var aggregator = try RoundAggregator(
            layout: layout, configuration: AggregationConfiguration(normBound: 50, maxStaleness: 2),
            currentVersion: 5, round: 1
        )
        try aggregator.add(update(node: "good", values: constant(1)))
        var wrongArchitecture = update(node: "x", values: constant(1))
        wrongArchitecture.architecture = "other"
        var unknownTensor = update(node: "x", values: constant(1))
        unknownTensor.tensors[0].name = "experts.9.fc1.weight"
        var wrongShape = update(node: "x", values: constant(1))
        wrongShape.tensors[0].shape = [3, 4]
        let cases: [(PolicyDelta, AggregationError.Code)] = [
            (wrongArchitecture, .architectureMismatch),
            (update(node: "x", values: constant(1), round: 2), .wrongRound),
            (update(node: "x", values: constant(1), base: 2), .staleBaseVersion),
            (update(node: "x", values: constant(1), base: 6), .staleBaseVersion),
            (unknownTensor, .unknownTensor),
            (wrongShape, .shapeMismatch),
            (update(node: "x", values: constant(1), counts: [10]), .routingCountMismatch),
            (update(node: "x", values: constant(100)), .normBoundExceeded),
            (update(node: "good", values: constant(1)), .duplicateNode),
        ]
        for (delta, code) in cases {
            #expect(throws: AggregationError(code, "")) { try aggregator.add(delta) }
        }
        let result = try aggregator.finalize()
        #expect(result.contributors == ["good"])
        #expect(result.meanDelta["experts.0.fc1.weight"] == constant(1))
    }

    @Test("an empty round cannot be finalized")
    func emptyRound() throws {
        let aggregator = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        #expect(throws: AggregationError(.emptyRound, "")) { try aggregator.finalize() }
    }

    @Test("configurations that make no sense are refused, naming the field")
    func configuration() {
        #expect(throws: AggregationError(.invalidConfiguration, "")) {
            try RoundAggregator(layout: layout, configuration: .init(rule: .trimmedMean(fraction: 0.5)), currentVersion: 0, round: 0)
        }
        #expect(throws: AggregationError(.invalidConfiguration, "")) {
            try RoundAggregator(
                layout: layout,
                configuration: .init(rule: .median, privacy: .init(clipNorm: 1, noiseMultiplier: 1, seed: 1)),
                currentVersion: 0, round: 0
            )
        }
    }
}

@Suite("robust aggregation")
struct RobustTests {
    /// Ten honest nodes near +1, two poisoned ones scaled ×100 and sign-flipped
    /// (no norm bound or clip: the rules alone).
    func poisonedRound(_ rule: AggregationConfiguration.Rule) throws -> [Float] {
        var aggregator = try RoundAggregator(
            layout: layout, configuration: .init(rule: rule, normBound: nil, clipNorm: nil), currentVersion: 5, round: 1)
        for node in 0..<10 {
            try aggregator.add(update(node: "honest-\(node)", values: constant(1 + Float(node - 5) / 50)))
        }
        for node in 0..<2 {
            try aggregator.add(update(node: "poisoned-\(node)", values: constant(-100)))
        }
        return try #require(try aggregator.finalize().meanDelta["experts.0.fc1.weight"])
    }

    @Test("the median and the trimmed mean shrug off poisoned updates; the plain mean does not")
    func poisoning() throws {
        let median = try poisonedRound(.median)
        let trimmed = try poisonedRound(.trimmedMean(fraction: 0.2))
        let plain = try poisonedRound(.weightedMean)
        #expect(median.allSatisfy { abs($0 - 1) < 0.05 })
        #expect(trimmed.allSatisfy { abs($0 - 1) < 0.05 })
        #expect(plain.allSatisfy { $0 < -10 })
    }

    @Test("a robust rule's buffer is bounded")
    func boundedBuffer() throws {
        var aggregator = try RoundAggregator(
            layout: layout, configuration: .init(rule: .median, bufferCapacity: 2), currentVersion: 5, round: 1
        )
        try aggregator.add(update(node: "a", values: constant(1)))
        try aggregator.add(update(node: "b", values: constant(1)))
        #expect(throws: AggregationError(.bufferFull, "")) { try aggregator.add(update(node: "c", values: constant(1))) }
    }

    @Test("median and trimmed mean of one coordinate")
    func statistics() {
        var odd: [Float] = [3, 1, 2]
        var even: [Float] = [4, 1, 3, 2]
        var trimmed: [Float] = [100, 1, 2, 3, -100]
        #expect(CoordinateStatistics.median(&odd) == 2)
        #expect(CoordinateStatistics.median(&even) == 2.5)
        #expect(CoordinateStatistics.trimmedMean(&trimmed, fraction: 0.2) == 2)
    }
}

@Suite("differential privacy")
struct PrivacyTests {
    func privateRound(seed: UInt64, nodes: Int = 50) throws -> AggregateResult {
        var aggregator = try RoundAggregator(
            layout: layout,
            configuration: .init(privacy: .init(clipNorm: 1, noiseMultiplier: 1, seed: seed)),
            currentVersion: 5, round: 1
        )
        for node in 0..<nodes {
            try aggregator.add(update(node: "n\(node)", values: constant(0.1)))
        }
        return try aggregator.finalize()
    }

    @Test("noise covers the whole model, is reported, and is reproducible from its seed")
    func gaussianMechanism() throws {
        let first = try privateRound(seed: 7)
        let again = try privateRound(seed: 7)
        let other = try privateRound(seed: 8)
        #expect(first.noiseStandardDeviation == 1.0 / 50)
        #expect(first.meanDelta == again.meanDelta)
        #expect(first.meanDelta != other.meanDelta)
        // Every tensor gets noise, touched or not, so the output reveals nothing about who touched what.
        #expect(Set(first.meanDelta.keys) == Set(layout.entries.map(\.name)))
        let untouched = try #require(first.meanDelta["experts.1.fc1.weight"])
        #expect(untouched.contains { $0 != 0 })
        // The touched expert is still close to the truth: 0.1 ± a few σ = 0.02.
        let touched = try #require(first.meanDelta["experts.0.fc1.weight"])
        let average = touched.reduce(0, +) / Float(touched.count)
        #expect(abs(average - 0.1) < 0.03)
    }
}

@Suite("server optimizers")
struct ServerOptimizerTests {
    @Test("FedAvg adds the average times its learning rate")
    func fedAvg() {
        var optimizer = ServerOptimizer(kind: .fedAvg(learningRate: 0.5))
        #expect(optimizer.step(["w": [2, -4]]) == ["w": [1, -2]])
    }

    @Test("FedAdam and FedYogi move in the direction of the average and keep moments per tensor",
          arguments: [ServerOptimizer.Kind.fedAdam, .fedYogi])
    func adaptive(kind: ServerOptimizer.Kind) throws {
        var optimizer = ServerOptimizer(kind: kind)
        let first = optimizer.step(["w": [1, -1, 0]])
        let step = try #require(first["w"])
        #expect(step[0] > 0 && step[1] < 0 && step[2] == 0)
        // A tensor no round touched has no moments and takes no step.
        _ = optimizer.step(["w": [1, -1, 0]])
        #expect(optimizer.firstMoments["v"] == nil)
        #expect(optimizer.firstMoments["w"] != nil)
        // With a steady pseudo-gradient the step approaches the learning rate.
        var last: Float = 0
        for _ in 0..<200 { last = optimizer.step(["w": [1, -1, 0]])["w"]![0] }
        #expect(abs(last - 0.01) < 0.002)
    }
}

@Suite("folding scanned containers")
struct ScannedFoldTests {
    /// The same change in each of the four payload encodings (rows of 3, so int8 rows and indices cross rows).
    static let payloads: [TensorPayload] = [
        .dense([0.5, -1, 0, 2, 0.25, 0, 0, 3, -0.5, 1, 0, -2]),
        .sparse(indices: [0, 1, 3, 4, 7, 8, 9, 11], values: [0.5, -1, 2, 0.25, 3, -0.5, 1, -2]),
        .denseInt8(scales: [0.5, 0.25, 0.125, 1], values: [1, -2, 0, 4, 1, 0, 0, 24, -4, 1, 0, -2]),
        .sparseInt8(scales: [0.5, 0.25, 0.125, 1], indices: [0, 1, 3, 4, 7, 8, 9, 11], values: [1, -2, 8, 1, 24, -4, 1, -2]),
    ]

    func round(_ payload: TensorPayload, node: String, expert: Int) -> PolicyDelta {
        PolicyDelta(
            architecture: "test-arch", baseVersion: 5, round: 1, nodeID: node,
            tensors: [
                TensorDelta(name: "experts.\(expert).fc1.weight", shape: [4, 3], payload: payload),
                TensorDelta(name: "router.bias", shape: [2], payload: .dense([0.25, -0.75])),
            ],
            routingCounts: expert == 0 ? [7, 0] : [0, 3],
            metadata: DeltaMetadata(families: ["fog", "ice"], samples: 10, captures: 1, metrics: ["loss_after": 0.125])
        )
    }

    @Test("a scanned container folds in exactly as its decoded delta", arguments: 0..<4)
    func scannedMatchesDecoded(encoding: Int) throws {
        var decoded = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        var scanned = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        for (node, expert) in [("a", 0), ("b", 1), ("c", 0)] {
            let delta = round(Self.payloads[encoding], node: node, expert: expert)
            let viaDecode = try decoded.add(delta)
            let viaScan = try scanned.add(DeltaCodec.scan(DeltaCodec.encode(delta)))
            #expect(abs(viaScan.norm - viaDecode.norm) <= 1e-9 * viaDecode.norm)
            #expect(viaScan.delta == delta)
        }
        let expected = try decoded.finalize(), actual = try scanned.finalize()
        #expect(actual.meanDelta == expected.meanDelta)
        #expect(actual.contributors == expected.contributors)
        #expect(actual.samplesPerExpert == expected.samplesPerExpert)
        #expect(actual.families == expected.families)
    }

    @Test("a refused scanned update changes nothing")
    func refusedScanChangesNothing() throws {
        var aggregator = try RoundAggregator(
            layout: layout, configuration: AggregationConfiguration(normBound: 1), currentVersion: 5, round: 1)
        let small = round(.dense(constant(0.01)), node: "a", expert: 0)
        try aggregator.add(DeltaCodec.scan(DeltaCodec.encode(small)))
        let before = try aggregator.finalize().meanDelta
        let large = round(.dense(constant(10)), node: "b", expert: 0)
        #expect(throws: AggregationError(.normBoundExceeded, "")) {
            try aggregator.add(DeltaCodec.scan(DeltaCodec.encode(large)))
        }
        #expect(try aggregator.finalize().meanDelta == before)
        #expect(aggregator.updateCount == 1)
    }
}
