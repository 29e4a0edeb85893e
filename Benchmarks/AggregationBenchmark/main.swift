import Aggregation
import EdgeLearning
import FleetWire
import Foundation
import PolicyNetwork

// Aggregation throughput against plain memory bandwidth, in the same run.
//
// What is timed, per update, from the bytes the coordinator holds after the
// upload to the update counted in the round: zstd decompression (for
// compressed bodies), the container scan (checksum, every length, index and
// value checked finite, squared norms), validation against the model (names,
// shapes, architecture, round, base version, norm bound) and the fold into
// the running per-expert weighted sums (`RoundAggregator.add`); then one
// `finalize()` per round. N distinct bodies are held in memory, one per node.
//
// Bytes counted: the decoded float32 bytes the update touches — 4 × the
// elements of every tensor it carries (for a sparse update, the dense size
// of the tensors it changes). The peer copies exactly that many bytes with
// memcpy, one source buffer per update, in the same run; the ratio of the two
// rates is the share of memory bandwidth aggregation reaches. Times are CPU
// time of the measuring thread (CLOCK_THREAD_CPUTIME_ID) on both sides.
//
//     swift run -c release aggregation-benchmark [--nodes N] [--trials T]
//     swift run -c release aggregation-benchmark --memory 100,1000,10000
//     swift run -c release aggregation-benchmark --robustness [--nodes N]

struct Options {
    var nodes = 1_000
    var trials = 7
    var memoryCounts: [Int]?
    var memoryChild: Int?
    var robustness = false
    var robustnessNodes = 20
    var profile: String?
    var lessonsDirectory: String?

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--nodes":
                nodes = Int(iterator.next() ?? "") ?? nodes
                robustnessNodes = nodes
            case "--trials": trials = Int(iterator.next() ?? "") ?? trials
            case "--memory": memoryCounts = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--memory-child": memoryChild = Int(iterator.next() ?? "")
            case "--robustness": robustness = true
            case "--profile": profile = iterator.next()
            case "--make-lessons": lessonsDirectory = iterator.next()
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

/// SplitMix64 with Box–Muller normals: the same seed gives the same updates.
struct SeededRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(UInt64(1) << 53) }
    mutating func normal() -> Float {
        Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
    }
}

/// The kinds of update a round is measured on.
enum UpdateKind: CaseIterable {
    /// What EdgeLearner sends: two trained experts, top-20 % per tensor, int8
    /// per-row scales with error feedback.
    case edgeLearnerSparseInt8
    /// The same two experts plus the router, as dense float32.
    case denseFloat32

    var label: String {
        switch self {
        case .edgeLearnerSparseInt8: "EdgeLearner delta (top-20 % int8, per-row scales)"
        case .denseFloat32: "dense float32"
        }
    }
}

let layout = ModelLayout(policy: try MoEPolicy(architecture: .standard, seed: 1))

/// Node `node`'s update of `kind`, as a decoded delta.
func makeUpdate(_ kind: UpdateKind, node: Int, fraction: Double = 0.2) -> PolicyDelta {
    var random = SeededRandom(state: 0x5EED &+ UInt64(node) &* 0x1_0000_0001)
    let first = node % layout.expertCount
    var second = (node * 3 + 1) % layout.expertCount
    if second == first { second = (first + 1) % layout.expertCount }
    let experts = [first, second]
    let includeRouter = kind != .edgeLearnerSparseInt8
    var compressor = DeltaCompressor(configuration: kind == .edgeLearnerSparseInt8 ? .init(fraction: fraction) : .uncompressed)
    let tensors = layout.entries
        .filter { $0.expert.map(experts.contains) ?? includeRouter }
        .map { entry in
            compressor.compress(
                name: entry.name, shape: entry.shape,
                values: (0..<entry.elementCount).map { _ in 0.01 * random.normal() })
        }
    var counts = [UInt64](repeating: 0, count: layout.expertCount)
    counts[first] = 600 + UInt64(node % 7) * 50
    counts[second] = 200 + UInt64(node % 5) * 40
    let metrics: [String: Double] = [
        "failure_rate_before": 0.675, "failure_rate_after": 0.1, "near_miss_rate_before": 0.21,
        "near_miss_rate_after": 0.085, "progress_before": 0.8125, "progress_after": 0.9433333333333334,
        "loss_before": 1.2718, "loss_after": 0.40125, "variations": 1_000, "trained_experts": 2,
        "validation_failure_before": 0.02, "validation_failure_after": 0.025,
    ]
    return PolicyDelta(
        architecture: layout.architecture, baseVersion: 1, round: 1, nodeID: "node-\(node)",
        tensors: tensors, routingCounts: counts,
        metadata: DeltaMetadata(families: ["stalled-vehicle"], samples: Int(counts[first] + counts[second]), captures: 1, metrics: metrics)
    )
}

func body(_ kind: UpdateKind, node: Int) throws -> [UInt8] {
    try DeltaCodec.encodeCompressed(makeUpdate(kind, node: node))
}

/// Decoded float32 bytes an update touches: 4 × the elements of every tensor it carries.
func touchedBytes(_ delta: PolicyDelta) -> Int { delta.tensors.reduce(0) { $0 + 4 * $1.elementCount } }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// CPU time of this thread spent in `body`: the machine is shared with other
/// builds, and time on a clock on the wall would count the slices another
/// process ran in. Both sides of every comparison use this clock.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
    let start = now()
    try body()
    return now() - start
}

func format(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }

/// Peak resident set of this process, in bytes.
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1_024
}

// MARK: Throughput

func throughput(_ options: Options) throws {
    print("Aggregation of \(options.nodes) updates to the default policy (\(layout.parameterCount) parameters), median of \(options.trials) trials")
    print("timed per update: [zstd decompression] + scan (checksum, bounds, indices, finite values, norms) + validation + fold; one finalize per round")
    print("bytes = decoded float32 bytes touched (4 × elements of the carried tensors); memcpy copies the same bytes, one buffer per update")
    print()
    print("| updates | body as held | bytes/update | touched MB | aggregation GB/s | memcpy GB/s | share of memcpy | µs/update | before: decode + add(PolicyDelta) GB/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in UpdateKind.allCases {
        let deltas = (0..<options.nodes).map { makeUpdate(kind, node: $0) }
        let containers = try deltas.map { try DeltaCodec.encode($0) }
        let compressed = try deltas.map { try DeltaCodec.encodeCompressed($0) }
        let touched = deltas.map(touchedBytes)
        let bytes = touched.reduce(0, +)
        let sources = touched.map { [UInt8](repeating: 1, count: $0) }
        var destination = [UInt8](repeating: 0, count: touched.max() ?? 0)

        for zstd in [false, true] {
            let bodies = zstd ? compressed : containers
            var aggregateTimes: [Double] = [], copyTimes: [Double] = [], beforeTimes: [Double] = []
            for _ in 0..<options.trials {
                // The whole path, as the coordinator runs it.
                aggregateTimes.append(try seconds {
                    var aggregator = try RoundAggregator(layout: layout, currentVersion: 1, round: 1)
                    for body in bodies {
                        try aggregator.add(zstd ? try DeltaCodec.scanCompressed(body) : try DeltaCodec.scan(body))
                    }
                    _ = try aggregator.finalize()
                })
                // The peer: the same bytes through memcpy.
                copyTimes.append(seconds {
                    destination.withUnsafeMutableBytes { target in
                        for source in sources {
                            source.withUnsafeBytes { _ = memcpy(target.baseAddress!, $0.baseAddress!, $0.count) }
                        }
                    }
                })
                // The path before the scan: decode into arrays, then add the decoded delta.
                beforeTimes.append(try seconds {
                    var aggregator = try RoundAggregator(layout: layout, currentVersion: 1, round: 1)
                    for body in bodies {
                        try aggregator.add(zstd ? try DeltaCodec.decodeCompressed(body) : try DeltaCodec.decode(body))
                    }
                    _ = try aggregator.finalize()
                })
            }
            let nodes = Double(options.nodes)
            let aggregation = Double(bytes) / median(aggregateTimes) / 1e9
            let copy = Double(bytes) / median(copyTimes) / 1e9
            let held = Double(bodies.reduce(0) { $0 + $1.count }) / nodes
            print("| \(kind.label) | \(zstd ? "zstd 3 (decompressed in the timed path)" : "container (after Content-Encoding)") | \(format(held)) | \(format(Double(bytes) / 1e6, 1)) | \(format(aggregation, 1)) | \(format(copy, 1)) | \(format(100 * aggregation / copy))% | \(format(median(aggregateTimes) / nodes * 1e6, 2)) | \(format(Double(bytes) / median(beforeTimes) / 1e9, 2)) |")
        }
    }
}

// MARK: Memory

/// One round of `count` updates, each made, encoded, scanned and folded in
/// turn and then dropped — what a coordinator holds is the aggregator only.
func memoryChild(count: Int) throws {
    let templates = try (0..<16).map { try body(.edgeLearnerSparseInt8, node: $0) }
    let baseline = peakRSS()
    var aggregator = try RoundAggregator(layout: layout, currentVersion: 1, round: 1)
    for node in 0..<count {
        // A distinct node id per update (the checksum is recomputed with it).
        var delta = try DeltaCodec.decodeCompressed(templates[node % templates.count])
        delta.nodeID = "node-\(node)"
        let upload = try DeltaCodec.encodeCompressed(delta)
        try aggregator.add(try DeltaCodec.scanCompressed(upload))
    }
    let result = try aggregator.finalize()
    let sums = result.meanDelta.values.reduce(0) { $0 + 4 * $1.count }
    print("\(count) \(baseline) \(peakRSS()) \(sums)")
}

func memory(counts: [Int]) throws {
    print("Peak RSS of one round (EdgeLearner deltas streamed through scan + add; a fresh process per row)")
    print("| updates | peak RSS MB | before the round MB | growth during the round MB | mean delta MB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for count in counts {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--memory-child", String(count)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let fields = output.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard fields.count == 4 else {
            print("| \(count) | failed: \(output) | | | |")
            continue
        }
        print("| \(count) | \(format(fields[2] / 1e6, 1)) | \(format(fields[1] / 1e6, 1)) | \(format((fields[2] - fields[1]) / 1e6, 2)) | \(format(fields[3] / 1e6, 3)) |")
    }
}

/// A long loop over one stage, for `perf record`.
func profile(_ stage: String, _ options: Options) throws {
    let kind: UpdateKind = stage.hasPrefix("dense") ? .denseFloat32 : .edgeLearnerSparseInt8
    let fraction = stage == "tiny" ? 1e-6 : 0.2
    let containers = try (0..<options.nodes).map { try DeltaCodec.encode(makeUpdate(kind, node: $0, fraction: fraction)) }
    let time = try seconds {
        for _ in 0..<options.trials {
            var aggregator = try RoundAggregator(layout: layout, currentVersion: 1, round: 1)
            for container in containers { try aggregator.add(try DeltaCodec.scan(container)) }
            _ = try aggregator.finalize()
        }
    }
    print("\(stage): \(format(time / Double(options.trials * options.nodes) * 1e6, 2)) µs per update")
}

let options = Options(arguments: CommandLine.arguments)
if let directory = options.lessonsDirectory {
    try await LessonFixtures.make(directory: directory)
} else if let stage = options.profile {
    try profile(stage, options)
} else if let count = options.memoryChild {
    try memoryChild(count: count)
} else if let counts = options.memoryCounts {
    try memory(counts: counts)
} else if options.robustness {
    try await RobustnessBenchmark.run(nodes: options.robustnessNodes)
} else {
    try throughput(options)
}
