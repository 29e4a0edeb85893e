import Aggregation
import EdgeLearning
import FleetWire
import Foundation
import PolicyNetwork

// Aggregation throughput against plain memory bandwidth, in the same run.
//
// N node updates shaped like the fleet's real ones (the default policy; each
// node touched the router and two experts; dense float32, or compressed to 5%
// sparse int8) are folded into one round by the streaming per-expert
// weighted mean. The same payload bytes are then copied with memcpy. Both
// figures are bytes of payload per second; their ratio is the share of
// memory bandwidth aggregation reaches.
//
//     swift run -c release aggregation-benchmark [--nodes N] [--trials T]

struct Options {
    var nodes = 1_000
    var trials = 5

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--nodes": nodes = Int(iterator.next() ?? "") ?? nodes
            case "--trials": trials = Int(iterator.next() ?? "") ?? trials
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

let options = Options(arguments: CommandLine.arguments)
let policy = try MoEPolicy(architecture: .standard, seed: 1)
let layout = ModelLayout(policy: policy)

func updates(compressed: Bool) -> [PolicyDelta] {
    var state: UInt64 = 0x5EED
    func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 11) % 1_000_001) / 1e8
    }
    return (0..<options.nodes).map { node in
        let experts = [node % layout.expertCount, (node * 3 + 1) % layout.expertCount]
        var compressor = DeltaCompressor(configuration: compressed ? .init(fraction: 0.05) : .uncompressed)
        let tensors = layout.entries.filter { $0.expert == nil || experts.contains($0.expert!) }.map { entry in
            compressor.compress(name: entry.name, shape: entry.shape, values: (0..<entry.elementCount).map { _ in next() })
        }
        var counts = [UInt64](repeating: 0, count: layout.expertCount)
        for expert in experts { counts[expert] = 100 }
        return PolicyDelta(
            architecture: layout.architecture, baseVersion: 1, round: 1, nodeID: "node-\(node)",
            tensors: tensors, routingCounts: counts, metadata: DeltaMetadata(samples: 200, captures: 1)
        )
    }
}

func payloadBytes(_ tensor: TensorDelta) -> Int {
    switch tensor.payload {
    case .dense(let values): 4 * values.count
    case .sparse(let indices, let values): 4 * indices.count + 4 * values.count
    case .denseInt8(let scales, let values): 4 * scales.count + values.count
    case .sparseInt8(let scales, let indices, let values): 4 * scales.count + 4 * indices.count + values.count
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

print("Aggregation of \(options.nodes) updates to the default policy (\(layout.parameterCount) parameters), median of \(options.trials) trials")
print("| updates | payload MB | aggregation MB/s | memcpy MB/s | share of memcpy |")
print("| --- | ---: | ---: | ---: | ---: |")
for compressed in [false, true] {
    let round = updates(compressed: compressed)
    let bytes = round.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + payloadBytes($1) } }
    var aggregateTimes: [Double] = []
    var copyTimes: [Double] = []
    // The copy moves the same bytes: one buffer per update, as they arrive.
    let sources = round.map { [UInt8](repeating: 1, count: $0.tensors.reduce(0) { $0 + payloadBytes($1) }) }
    var destination = [UInt8](repeating: 0, count: sources.map(\.count).max() ?? 0)
    for _ in 0..<options.trials {
        aggregateTimes.append(try seconds {
            var aggregator = try RoundAggregator(layout: layout, currentVersion: 1, round: 1)
            for update in round { try aggregator.add(update) }
            _ = try aggregator.finalize()
        })
        copyTimes.append(seconds {
            destination.withUnsafeMutableBytes { target in
                for source in sources {
                    source.withUnsafeBytes { _ = memcpy(target.baseAddress!, $0.baseAddress!, $0.count) }
                }
            }
        })
    }
    let aggregation = Double(bytes) / median(aggregateTimes) / 1e6
    let copy = Double(bytes) / median(copyTimes) / 1e6
    print("| \(compressed ? "5% sparse int8" : "dense float32") | \(String(format: "%.1f", Double(bytes) / 1e6)) | \(String(format: "%.0f", aggregation)) | \(String(format: "%.0f", copy)) | \(String(format: "%.0f%%", 100 * aggregation / copy)) |")
}
