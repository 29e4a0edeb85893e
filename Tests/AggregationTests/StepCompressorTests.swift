import Testing
import FleetWire
@testable import Aggregation

/// The server's downlink: the step becomes a sparse int8 delta, and what it leaves out is carried.
@Suite("step compressor (downlink delta)")
struct StepCompressorTests {
    /// Decoded values of the block for `name`, zeros where it carries nothing.
    func sent(_ blocks: [TensorDelta], _ name: String) -> [Float] {
        blocks.first { $0.name == name }?.denseValues() ?? [Float](repeating: 0, count: layout[name]!.elementCount)
    }

    @Test("only entries the step changes are sent; untouched tensors get no block")
    func onlyChangedEntries() throws {
        var compressor = try StepCompressor(configuration: .init(fraction: 1, quantize: true))
        var step = [Float](repeating: 0, count: 12)
        step[2] = 0.5
        step[7] = -0.25
        let blocks = compressor.compress(["experts.0.fc1.weight": step, "experts.1.fc1.weight": [Float](repeating: 0, count: 12)], layout: layout)
        #expect(blocks.map(\.name) == ["experts.0.fc1.weight"])
        guard case .sparseInt8(_, let indices, _) = blocks[0].payload else {
            Issue.record("expected a sparse int8 block, got \(blocks[0].payload)")
            return
        }
        #expect(indices == [2, 7])
        let values = sent(blocks, "experts.0.fc1.weight")
        #expect(abs(values[2] - 0.5) < 0.5 / 127 && abs(values[7] + 0.25) < 0.5 / 127)
    }

    @Test("what top-k leaves out is carried into the next step, so every change arrives")
    func errorFeedbackCarried() throws {
        var compressor = try StepCompressor(configuration: .init(fraction: 0.25, quantize: true))
        let step: [Float] = [0.9, -0.1, 0.05, 0, 0.3, 0.2, -0.6, 0.01, 0, 0.4, -0.02, 0.7]
        let first = compressor.compress(["experts.0.fc1.weight": step], layout: layout)
        let firstValues = sent(first, "experts.0.fc1.weight")
        #expect(firstValues.filter { $0 != 0 }.count == 3)  // ⌈0.25 × 12⌉
        let residual = try #require(compressor.residuals["experts.0.fc1.weight"])
        for index in step.indices { #expect(abs(residual[index] - (step[index] - firstValues[index])) < 1e-7) }

        // Rounds with no new step keep sending the remainder until it is gone.
        var total = firstValues
        for _ in 0..<6 {
            let values = sent(compressor.compress([:], layout: layout), "experts.0.fc1.weight")
            for index in total.indices { total[index] += values[index] }
        }
        for index in step.indices { #expect(abs(total[index] - step[index]) < 0.9 / 127, "entry \(index)") }
    }

    @Test("a residual is sent with the next step of the same tensor, added to it")
    func residualAddsToNextStep() throws {
        var compressor = try StepCompressor(configuration: .init(fraction: 0.05, quantize: false))
        var step = [Float](repeating: 0, count: 12)
        step[0] = 1
        step[5] = 0.5
        _ = compressor.compress(["experts.1.fc1.weight": step], layout: layout)  // sends entry 0
        var next = [Float](repeating: 0, count: 12)
        next[5] = 0.25
        let values = sent(compressor.compress(["experts.1.fc1.weight": next], layout: layout), "experts.1.fc1.weight")
        #expect(values[5] == 0.75)
        #expect(compressor.residuals["experts.1.fc1.weight"] == nil)  // nothing left to carry
    }

    @Test("a fraction outside (0, 1] is refused, naming the field")
    func invalidFraction() {
        #expect(throws: AggregationError(.invalidConfiguration, "")) { _ = try StepCompressor(configuration: .init(fraction: 0)) }
        #expect(throws: AggregationError(.invalidConfiguration, "")) { _ = try StepCompressor(configuration: .init(fraction: 1.5)) }
    }
}
