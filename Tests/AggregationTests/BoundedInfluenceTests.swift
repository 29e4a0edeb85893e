import Testing
import FleetWire
@testable import Aggregation

/// What one hostile node with a valid certificate can do to a round.
///
/// Each case here was an attack on the coordinator: counts that overflow the
/// fold, a self-reported sample count that makes one node the whole average,
/// values that overflow the sums, and added experts nobody routes to.
@Suite("bounded influence of one node")
struct BoundedInfluenceTests {
    /// Every tensor of the two-expert test model, touched.
    static func fullUpdate(node: String, counts: [UInt64], values: (String, Int) -> [Float]) -> PolicyDelta {
        PolicyDelta(
            architecture: "test-arch", baseVersion: 5, round: 1, nodeID: node,
            tensors: layout.entries.map { entry in
                TensorDelta(name: entry.name, shape: entry.shape, payload: .dense(values(entry.name, entry.elementCount)))
            },
            routingCounts: counts,
            metadata: DeltaMetadata(families: ["ice"], samples: 1, captures: 1)
        )
    }

    static func norm(_ tensors: [String: [Float]]) -> Double {
        tensors.values.joined().reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    static func difference(_ a: [String: [Float]], _ b: [String: [Float]]) -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for name in Set(a.keys).union(b.keys) {
            let x = a[name] ?? [], y = b[name] ?? []
            let count = max(x.count, y.count)
            out[name] = (0..<count).map { (($0 < x.count ? x[$0] : 0) - ($0 < y.count ? y[$0] : 0)) }
        }
        return out
    }

    /// Both ways an update reaches the aggregator: decoded, and scanned from its container (the coordinator's path).
    enum Path: CaseIterable, Sendable { case decoded, scanned }

    static func add(_ delta: PolicyDelta, to aggregator: inout RoundAggregator, via path: Path) throws {
        switch path {
        case .decoded: try aggregator.add(delta)
        case .scanned: try aggregator.add(DeltaCodec.scan(DeltaCodec.encode(delta)))
        }
    }

    @Test("routing counts that sum past 2⁶⁴ are refused before anything is folded", arguments: Path.allCases)
    func overflowingCounts(path: Path) throws {
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        try Self.add(update(node: "honest", values: constant(1), counts: [10, 0]), to: &aggregator, via: path)
        for counts: [UInt64] in [[.max, 1], [1 << 63, 1 << 63], [(1 << 40) + 1, 0]] {
            #expect(throws: AggregationError(.implausibleValue, "")) {
                try Self.add(update(node: "hostile", values: constant(1), counts: counts), to: &aggregator, via: path)
            }
        }
        let result = try aggregator.finalize()
        #expect(result.contributors == ["honest"])
        #expect(result.samplesPerExpert == [10, 0])
    }

    @Test("a base version that never existed is refused", arguments: Path.allCases)
    func versionZero(path: Path) throws {
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 1, round: 1)
        #expect(throws: AggregationError(.implausibleValue, "")) {
            try Self.add(update(node: "x", values: constant(1), base: 0), to: &aggregator, via: path)
        }
    }

    @Test("a node claiming 10¹⁵ samples is refused, and one claiming 2⁴⁰ weighs no more than the cap", arguments: Path.allCases)
    func selfReportedSamples(path: Path) throws {
        let cap = AggregationConfiguration.defaultSampleCap
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        try Self.add(update(node: "a", values: constant(0), counts: [cap, 0]), to: &aggregator, via: path)
        try Self.add(update(node: "b", values: constant(0), counts: [cap, 0]), to: &aggregator, via: path)
        // 10¹⁵ is past any plausible count and refused; the most plausible one weighs as much as the cap.
        #expect(throws: AggregationError(.implausibleValue, "")) {
            try Self.add(update(node: "liar", values: constant(3), counts: [1_000_000_000_000_000, 0]), to: &aggregator, via: path)
        }
        try Self.add(update(node: "liar", values: constant(3), counts: [1 << 40, 0]), to: &aggregator, via: path)
        let mean = try #require(try aggregator.finalize().meanDelta["experts.0.fc1.weight"])
        // One of three equal weights: 3 / 3 = 1, not 3.
        #expect(mean.allSatisfy { abs($0 - 1) < 1e-5 })
    }

    @Test("values near Float's largest are refused and the honest round still finalizes", arguments: Path.allCases)
    func hugeValues(path: Path) throws {
        for configuration in [AggregationConfiguration(), AggregationConfiguration(normBound: nil, clipNorm: nil, sampleCap: nil)] {
            var aggregator = try RoundAggregator(layout: layout, configuration: configuration, currentVersion: 5, round: 1)
            try Self.add(update(node: "honest", values: constant(0.5), counts: [100, 0]), to: &aggregator, via: path)
            #expect(throws: AggregationError.self) {
                try Self.add(update(node: "hostile", values: constant(3e38), counts: [1 << 40, 0]), to: &aggregator, via: path)
            }
            let mean = try #require(try aggregator.finalize().meanDelta["experts.0.fc1.weight"])
            #expect(mean == constant(0.5))
        }
    }

    @Test("added experts: at most one per update, each with routed samples, in order", arguments: Path.allCases)
    func structuralChanges(path: Path) throws {
        func adding(_ experts: [Int], node: String, samples: UInt64 = 50) -> PolicyDelta {
            let added = (experts.max() ?? 1) - 1
            var delta = update(node: node, values: constant(0), counts: [5, 0] + Array(repeating: samples, count: max(0, added)))
            for expert in experts {
                delta.tensors.append(TensorDelta(name: "experts.\(expert).fc1.weight", role: .addition, shape: [4, 3], payload: .dense(constant(1))))
            }
            delta.tensors.sort { $0.name < $1.name }
            return delta
        }
        var aggregator = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        // A hundred experts that nobody routes to, as the attack sent them.
        var hundred = update(node: "hostile", values: constant(0), counts: [5, 0] + Array(repeating: 0, count: 100))
        for expert in 2..<102 {
            hundred.tensors.append(TensorDelta(name: "experts.\(expert).fc1.weight", role: .addition, shape: [4, 3], payload: .dense(constant(1))))
        }
        hundred.tensors.sort { $0.name < $1.name }
        #expect(throws: AggregationError(.invalidAddition, "")) { try Self.add(hundred, to: &aggregator, via: path) }
        #expect(throws: AggregationError(.invalidAddition, "")) { try Self.add(adding([2, 3], node: "two"), to: &aggregator, via: path) }
        #expect(throws: AggregationError(.invalidAddition, "")) { try Self.add(adding([2], node: "unrouted", samples: 0), to: &aggregator, via: path) }
        // An added tensor for an expert the counts do not add.
        var stray = update(node: "stray", values: constant(0), counts: [5, 0, 10])
        stray.tensors.append(TensorDelta(name: "experts.7.fc1.weight", role: .addition, shape: [4, 3], payload: .dense(constant(1))))
        #expect(throws: AggregationError(.invalidAddition, "")) { try Self.add(stray, to: &aggregator, via: path) }
        try Self.add(adding([2], node: "one"), to: &aggregator, via: path)
        let result = try aggregator.finalize()
        #expect(result.additionProposer == "one")
        #expect(result.additions.count == 1)
        // A model already at the most experts allowed grows no further.
        var full = try RoundAggregator(layout: layout, configuration: .init(maxExperts: 2), currentVersion: 5, round: 1)
        #expect(throws: AggregationError(.invalidAddition, "")) { try Self.add(adding([2], node: "grow"), to: &full, via: path) }
    }

    /// Ten honest nodes, each routing between half the cap and twice it to
    /// every expert, with small updates of their own.
    static func honestRound(seed: UInt64) -> [PolicyDelta] {
        var random = SplitMix(seed)
        let cap = AggregationConfiguration.defaultSampleCap
        return (0..<10).map { node in
            let counts: [UInt64] = (0..<2).map { _ in cap / 2 + random.next() % (cap + cap / 2) }
            return fullUpdate(node: "honest-\(node)", counts: counts) { _, count in
                (0..<count).map { _ in 0.2 + Float(random.next() % 1_000) / 5_000 }
            }
        }
    }

    /// The worst updates the validator still accepts: the largest plausible
    /// counts, a norm just under the bound, pointing against the honest
    /// mean, on every tensor or on one expert only.
    static func hostileUpdates(against honest: [String: [Float]]) -> [(String, PolicyDelta)] {
        let maxCount = AggregationConfiguration().maxRoutingCount
        let bound = AggregationConfiguration.defaultNormBound * 0.999
        let honestNorm = norm(honest)
        let opposite = fullUpdate(node: "hostile", counts: [maxCount, maxCount]) { name, _ in
            honest[name]!.map { Float(-Double($0) / honestNorm * bound) }
        }
        var oneExpert = fullUpdate(node: "hostile", counts: [maxCount, 1]) { _, count in
            [Float](repeating: Float(bound / (12).squareRoot()), count: count)
        }
        oneExpert.tensors = oneExpert.tensors.filter { $0.name == "experts.0.fc1.weight" }
        let atClip = fullUpdate(node: "hostile", counts: [maxCount, maxCount]) { name, _ in
            honest[name]!.map { Float(-Double($0) / honestNorm * AggregationConfiguration.defaultClipNorm) }
        }
        return [("against the mean at the norm bound", opposite), ("one expert at the norm bound", oneExpert), ("against the mean at the clip", atClip)]
    }

    @Test("one node among ten honest ones moves the published step by at most twice its 1/N share",
          arguments: Path.allCases, [1, 2, 3] as [UInt64])
    func boundedStep(path: Path, seed: UInt64) throws {
        let honest = Self.honestRound(seed: seed)
        var clean = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
        for delta in honest { try Self.add(delta, to: &clean, via: path) }
        let honestStep = try clean.finalize().meanDelta
        let clip = AggregationConfiguration.defaultClipNorm
        let share = 1.0 / Double(honest.count + 1)

        for (name, hostile) in Self.hostileUpdates(against: honestStep) {
            var round = try RoundAggregator(layout: layout, currentVersion: 5, round: 1)
            for delta in honest { try Self.add(delta, to: &round, via: path) }
            try Self.add(hostile, to: &round, via: path)
            let step = try round.finalize().meanDelta
            // A tensor's average moves by the node's weight share times the
            // gap between its clipped update and the others' mean:
            // ≤ (2/N) · (C + ‖others' mean‖), per tensor and over the model.
            let moved = Self.difference(step, honestStep)
            let bound = 2 * share * (clip + Self.norm(honestStep))
            #expect(Self.norm(moved) <= bound, "\(name): moved \(Self.norm(moved)), bound \(bound)")
            for (tensor, change) in moved {
                let tensorBound = 2 * share * (clip + Self.norm([tensor: honestStep[tensor]!]))
                #expect(Self.norm([tensor: change]) <= tensorBound, "\(name), \(tensor)")
            }
            // And it does move it (the bound is not met by refusing the update).
            #expect(Self.norm(moved) > 0)
        }
    }
}

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
