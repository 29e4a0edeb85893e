import Testing
import FleetWire
@testable import EdgeLearning

@Suite("delta compression with error feedback")
struct DeltaCompressorTests {
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
    }

    @Test("top-k keeps exactly the largest magnitudes, in index order")
    func topK() {
        let values: [Float] = [0.1, -5, 3, 0, -3, 2, 7, -0.5]
        #expect(DeltaCompressor.largestMagnitudes(of: values, count: 3) == [1, 2, 6] || DeltaCompressor.largestMagnitudes(of: values, count: 3) == [1, 4, 6])
        #expect(DeltaCompressor.largestMagnitudes(of: values, count: 1) == [6])
        #expect(DeltaCompressor.largestMagnitudes(of: values, count: 8) == Array(0..<8))
        // Ties resolve to the lowest indices, so the choice is deterministic.
        #expect(DeltaCompressor.largestMagnitudes(of: [1, 1, 1, 1], count: 2) == [0, 1])
    }

    @Test("top-k agrees with sorting on random inputs", arguments: [1, 7, 50, 333])
    func topKMatchesSort(count: Int) {
        let values = Self.values(1_000, seed: UInt64(count))
        let expected = values.indices.sorted { abs(values[$0]) > abs(values[$1]) }.prefix(count).map { UInt32($0) }.sorted()
        #expect(DeltaCompressor.largestMagnitudes(of: values, count: count) == expected)
    }

    @Test("the sparse projection keeps exactly the entries top-k would send, ties included", arguments: [1, 7, 50, 333, 999])
    func projectionMatchesTopK(keep: Int) {
        let before = Self.values(1_000, seed: 3)
        // Changes on a coarse grid, so many magnitudes tie (and some are zero or −0).
        let after = zip(before, Self.values(1_000, seed: UInt64(keep))).map { base, noise in base + (noise * 8).rounded() / 8 }
        let changes = zip(after, before).map { $0 - $1 }
        var selection = LargestChanges()
        let projected = selection.keepLargest(keep, of: after, from: before)
        var expected = before
        for index in DeltaCompressor.largestMagnitudes(of: changes, count: keep) { expected[Int(index)] = after[Int(index)] }
        #expect(projected == expected)
    }

    @Test("error feedback carries exactly what was not sent")
    func residualIsCarried() throws {
        var compressor = DeltaCompressor(configuration: .init(fraction: 0.1, quantize: true, errorFeedback: true))
        let delta = Self.values(400, seed: 9)
        let sent = compressor.compress(name: "experts.0.fc1.weight", shape: [20, 20], values: delta)
        let residual = try #require(compressor.residuals["experts.0.fc1.weight"])
        let decoded = sent.denseValues()
        for index in delta.indices {
            #expect(abs(decoded[index] + residual[index] - delta[index]) < 1e-6)
        }
        // The next delta of the same tensor includes the residual: sending
        // zero change now still sends the biggest leftovers.
        let next = compressor.compress(name: "experts.0.fc1.weight", shape: [20, 20], values: [Float](repeating: 0, count: 400))
        #expect(next.denseValues().contains { $0 != 0 })
    }

    /// Mean |Σ sent − rounds × delta| / rounds per element after sending the same delta `rounds` times.
    static func meanError(rounds: Int, errorFeedback: Bool) -> Float {
        var compressor = DeltaCompressor(configuration: .init(fraction: 0.05, errorFeedback: errorFeedback))
        let delta = values(1_000, seed: 3)
        var sum = [Float](repeating: 0, count: 1_000)
        for _ in 0..<rounds {
            let sent = compressor.compress(name: "w", shape: [1_000], values: delta).denseValues()
            for index in 0..<1_000 { sum[index] += sent[index] }
        }
        return zip(sum, delta).map { abs($0 - Float(rounds) * $1) }.reduce(0, +) / Float(rounds * 1_000)
    }

    @Test("with error feedback the average of what was sent converges to the delta")
    func errorFeedbackIsUnbiased() {
        let short = Self.meanError(rounds: 40, errorFeedback: true)
        let long = Self.meanError(rounds: 160, errorFeedback: true)
        let plain = Self.meanError(rounds: 160, errorFeedback: false)
        // The residual stays bounded, so the error of the average falls like 1/rounds…
        #expect(long < short / 2.5)
        // …while without feedback 95% of every delta is simply lost.
        #expect(plain > 0.4)
        #expect(long < plain / 10)
    }

    @Test("quantization error is at most half a step per row")
    func quantizationBound() {
        var compressor = DeltaCompressor(configuration: .init(fraction: 1, quantize: true, errorFeedback: false))
        let delta = Self.values(64, seed: 5)
        let sent = compressor.compress(name: "w", shape: [8, 8], values: delta)
        guard case .denseInt8(let scales, _) = sent.payload else {
            Issue.record("a full-fraction quantized tensor is dense int8")
            return
        }
        let decoded = sent.denseValues()
        for index in delta.indices {
            #expect(abs(decoded[index] - delta[index]) <= scales[index / 8] / 2 + 1e-7)
        }
    }

    @Test("added tensors are sent whole, and round-trip through the container")
    func additions() throws {
        var compressor = DeltaCompressor()
        let weights = Self.values(12, seed: 1)
        let added = compressor.compress(name: "experts.8.fc1.bias", shape: [12], values: weights, role: .addition)
        #expect(added.payload == .dense(weights))
        let delta = PolicyDelta(
            architecture: "x", baseVersion: 1, round: 1, nodeID: "n", tensors: [added],
            routingCounts: [1], metadata: DeltaMetadata()
        )
        #expect(try DeltaCodec.decode(DeltaCodec.encode(delta)) == delta)
    }
}
