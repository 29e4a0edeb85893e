import DrivingSimulator
import FleetEvaluation
import FleetWire
import Foundation

/// Fleet load benchmark: one real `fleet-coordinator` process, N simulated
/// nodes uploading EdgeLearner deltas over mutual TLS on 127.0.0.1.
///
///     swift build -c release --product fleet-coordinator
///     swift run -c release fleet-load-benchmark [--nodes 100,1000] [--runs 3] [--concurrency 32] [--trials 7]
///
/// Prints, per fleet size, the median over runs of updates per second, p50
/// and p99 upload latency and the coordinator's memory, then the aggregation
/// path against memcpy on the same bodies in the same process.
///
///     ulimit -n 65536   # or as high as the hard limit allows
///     swift run -c release fleet-load-benchmark --idle-connections 25000 [--hold 120]
///
/// instead floods the coordinator (at its default connection limits) with idle
/// TCP connections from 127.0.0.1 and reports a node's heartbeat latency, the
/// coordinator's memory and descriptors throughout (see ``IdleConnectionsRun``).
struct Options {
    var nodes = [100, 1_000]
    var runs = 3
    var concurrency = 32
    var trials = 7
    var coordinator: String?
    var lessons = "Tests/AggregationRobustnessTests/Lessons"
    var idleConnections: Int?
    var hold = 120

    init(_ arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        func value(_ flag: String) throws -> String {
            guard let value = iterator.next() else { throw BenchmarkError("\(flag) needs a value") }
            return value
        }
        while let flag = iterator.next() {
            switch flag {
            case "--nodes": nodes = try value(flag).split(separator: ",").compactMap { Int($0) }
            case "--runs": runs = Int(try value(flag)) ?? runs
            case "--concurrency": concurrency = Int(try value(flag)) ?? concurrency
            case "--trials": trials = Int(try value(flag)) ?? trials
            case "--coordinator": coordinator = try value(flag)
            case "--lessons": lessons = try value(flag)
            case "--idle-connections": idleConnections = Int(try value(flag))
            case "--hold": hold = Int(try value(flag)) ?? hold
            case "-h", "--help":
                print("usage: fleet-load-benchmark [--nodes 100,1000] [--runs 3] [--concurrency 32] [--trials 7] [--coordinator PATH] [--lessons DIR]")
                print("       fleet-load-benchmark --idle-connections 25000 [--hold 120] [--coordinator PATH] [--lessons DIR]")
                exit(0)
            default: throw BenchmarkError("unknown option \(flag) (see --help)")
            }
        }
        guard !nodes.isEmpty, nodes.allSatisfy({ $0 > 0 }), runs > 0, concurrency > 0, trials > 0 else {
            throw BenchmarkError("--nodes, --runs, --concurrency and --trials must be positive")
        }
    }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }

if CommandLine.arguments.count == 5, CommandLine.arguments[1] == "--idle-flood-worker",
   let port = Int(CommandLine.arguments[2]), let count = Int(CommandLine.arguments[3]), let hold = Int(CommandLine.arguments[4]) {
    FloodWorker.run(port: port, count: count, hold: hold)
}
let options = try Options(Array(CommandLine.arguments.dropFirst()))
let executable = options.coordinator ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("fleet-coordinator").path
guard FileManager.default.isExecutableFile(atPath: executable) else {
    throw BenchmarkError("\(executable) not found: run `swift build -c release --product fleet-coordinator` first")
}
guard let content = SimulatorContent.locate() else { throw BenchmarkError("run from the repository (Simulator/ not found)") }
let layout = ModelLayout(policy: try BasePolicy.load(from: content))
let modelBytes = 4 * layout.entries.reduce(0) { $0 + $1.elementCount }

if let connections = options.idleConnections {
    guard connections > 0, options.hold > 0 else { throw BenchmarkError("--idle-connections and --hold must be positive") }
    let fleet = try SimulatedFleet(nodes: 2, lessonDirectory: options.lessons)
    print("coordinator: \(executable) at its default connection limits; \(connections) idle connections, held up to \(options.hold) s\n")
    try await IdleConnectionsRun(fleet: fleet, coordinator: executable, connections: connections, holdSeconds: options.hold).run()
    fleet.removeFiles()
    exit(0)
}

let largest = options.nodes.max()!
print("issuing \(largest) node certificates …")
let fleet = try SimulatedFleet(nodes: largest, lessonDirectory: options.lessons)
defer { fleet.removeFiles() }
print("model: \(layout.entries.count) tensors, \(modelBytes / 4) parameters, \(modelBytes) bytes float32")
print("coordinator: \(executable); concurrency \(options.concurrency); \(options.runs) runs per size\n")

print("| nodes | updates/s | p50 upload ms | p99 upload ms | RSS before uploads | RSS peak during uploads | growth | VmHWM (whole run) | round done |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :-: |")
for nodes in options.nodes {
    var results: [LoadRun.Result] = []
    for run in 0..<options.runs {
        let result = try await LoadRun(fleet: fleet, coordinator: executable, nodes: nodes, concurrency: options.concurrency).run()
        results.append(result)
        FileHandle.standardError.write(Data(String(
            format: "  run %d, %d nodes: %.0f updates/s, p50 %.2f ms, p99 %.2f ms, RSS %@ → %@, VmHWM %@ (after the round: anonymous %@, files %@, shared %@)\n",
            run + 1, nodes, result.updatesPerSecond, percentile(result.latencies, 50) * 1e3, percentile(result.latencies, 99) * 1e3,
            megabytes(result.rssBefore), megabytes(result.rssPeakDuringUploads), megabytes(result.highWaterMark),
            megabytes(result.residentParts.anonymous), megabytes(result.residentParts.file), megabytes(result.residentParts.shared)
        ).utf8))
    }
    let rate = median(results.map(\.updatesPerSecond))
    let p50 = median(results.map { percentile($0.latencies, 50) }) * 1e3
    let p99 = median(results.map { percentile($0.latencies, 99) }) * 1e3
    let before = Int(median(results.map { Double($0.rssBefore) }))
    let peak = Int(median(results.map { Double($0.rssPeakDuringUploads) }))
    let growth = Int(median(results.map { Double($0.rssPeakDuringUploads - $0.rssBefore) }))
    let hwm = Int(median(results.map { Double($0.highWaterMark) }))
    print(String(
        format: "| %d | %.0f | %.2f | %.2f | %@ | %@ | %@ | %@ | %@ |", nodes, rate, p50, p99,
        megabytes(before), megabytes(peak), megabytes(growth), megabytes(hwm),
        results.allSatisfy(\.roundFinished) ? "yes" : "no"
    ))
}

let bodies = try (0..<largest).map { try fleet.body(node: $0, round: 1, baseVersion: 1) }
let aggregation = try AggregationAgainstMemcpy.measure(bodies: bodies, layout: layout, round: 1, baseVersion: 1, trials: options.trials)
let copyRate = Double(aggregation.bytesPerPass) / aggregation.memcpySeconds
print("\naggregation of the \(largest) bodies (\(aggregation.bytesPerPass) float32 bytes touched), median of \(options.trials) trials, thread CPU time:")
print("| path | GB/s | memcpy GB/s | share of memcpy | µs / update |")
print("| --- | ---: | ---: | ---: | ---: |")
for (name, seconds) in [("scanCompressed + add (zstd, as uploaded)", aggregation.compressedSeconds), ("scan + add (container)", aggregation.containerSeconds)] {
    let rate = Double(aggregation.bytesPerPass) / seconds
    print(String(
        format: "| %@ | %.2f | %.2f | %.0f %% | %.1f |", name, rate / 1e9, copyRate / 1e9, 100 * rate / copyRate,
        seconds / Double(largest) * 1e6
    ))
}
