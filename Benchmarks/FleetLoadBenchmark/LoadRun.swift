import FleetWire
import EdgeNode
import Foundation
import NIOCore
import Synchronization

/// One run: a fresh coordinator process, `nodes` nodes register, a round
/// opens for all of them, every node fetches its task and uploads its delta
/// over its own mutually authenticated TLS connection, at most
/// `concurrency` nodes at a time.
///
/// What is timed: *upload latency* is the `PUT /v1/rounds/{r}/updates` alone
/// (the connection is already open — the node's task poll opened it), from
/// the request sent to the 202 read; *updates per second* is nodes ÷ the
/// wall time of the whole upload phase, in which every node also opens its
/// connection (TLS 1.3 handshake, both certificates verified) and polls its
/// task. Memory: the coordinator's resident set before the upload phase, its
/// maximum during the phase (sampled every 10 ms), and `VmHWM` after the
/// round was aggregated and gated (the process's peak over its whole life).
struct LoadRun {
    struct Result {
        var nodes: Int
        var seconds: Double
        var updatesPerSecond: Double { Double(nodes) / seconds }
        var latencies: [Double]
        var rssBefore: Int
        var rssPeakDuringUploads: Int
        var highWaterMark: Int
        var roundFinished: Bool
        /// `RssAnon`, `RssFile`, `RssShmem` after the round: heap versus mapped files.
        var residentParts: (anonymous: Int, file: Int, shared: Int)
    }

    let fleet: SimulatedFleet
    let coordinator: String
    let nodes: Int
    let concurrency: Int

    func run() async throws -> Result {
        let data = fleet.directory + "/data-\(nodes)-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let child = try CoordinatorChild(executable: coordinator, arguments: fleet.coordinatorArguments(dataDirectory: data) + [
            "--min-participants", "\(nodes)", "--max-participants", "\(nodes)", "--quorum", "1",
            "--deadline", "600", "--heartbeat-timeout", "600", "--tick-interval", "0.2",
            "--gate-episodes-per-family", "1", "--gate-family", "cut-in", "--log-level", "warning",
        ])
        defer { child.stop() }
        guard let port = await child.port() else {
            throw BenchmarkError("the coordinator did not start:\n\(child.text)")
        }
        let configuration = ConnectionConfiguration(host: "127.0.0.1", port: port, requestTimeout: .seconds(120))
        let fleet = self.fleet
        @Sendable func connection(_ index: Int) throws -> HTTPSCoordinatorConnection {
            try HTTPSCoordinatorConnection(configuration: configuration, tls: fleet.contexts[index])
        }

        // Registration: every node says hello once.
        try await forEachNode { index in
            let node = try connection(index)
            _ = try await node.heartbeat(NodeHeartbeat(state: .idle, modelVersion: 1, region: "benchmark", capturesPending: 1))
            await node.close()
        }
        // The round opens at the next tick once every node is live.
        let watcher = try connection(0)
        var reply = try await watcher.heartbeat(NodeHeartbeat(state: .idle, modelVersion: 1, region: "benchmark", capturesPending: 1))
        while reply.openRound == nil {
            try await Task.sleep(for: .milliseconds(50))
            reply = try await watcher.heartbeat(NodeHeartbeat(state: .idle, modelVersion: 1, region: "benchmark", capturesPending: 1))
        }
        let round = reply.openRound!
        let baseVersion = reply.currentVersion
        let bodies = try (0..<nodes).map { try fleet.body(node: $0, round: round, baseVersion: baseVersion) }

        let rssBefore = child.memory("VmRSS")
        let sampler = MemorySampler()
        let latencies = LatencyLog()
        let start = ContinuousClock.now
        try await sampler.sample({ child.memory("VmRSS") }) {
            try await forEachNode { index in
                let node = try connection(index)
                guard let task = try await node.pollTask(waitSeconds: 0), task.round == round else {
                    throw BenchmarkError("node \(index) got no task for round \(round)")
                }
                let sent = ContinuousClock.now
                _ = try await node.uploadUpdate(round: round, compressedDelta: bodies[index])
                latencies.append(ContinuousClock.now - sent)
                await node.close()
            }
        }
        let seconds = (ContinuousClock.now - start).seconds

        // The round closes at quorum; wait for it to be aggregated and gated
        // (the next round opens, or a new version is current).
        var finished = false
        for _ in 0..<1_200 {
            let after = try await watcher.heartbeat(NodeHeartbeat(state: .idle, modelVersion: 1, region: "benchmark", capturesPending: 0))
            if after.currentVersion > baseVersion || (after.openRound ?? round) > round { finished = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await watcher.close()
        return Result(
            nodes: nodes, seconds: seconds, latencies: latencies.values, rssBefore: rssBefore,
            rssPeakDuringUploads: sampler.maximum, highWaterMark: child.memory("VmHWM"), roundFinished: finished,
            residentParts: (child.memory("RssAnon"), child.memory("RssFile"), child.memory("RssShmem"))
        )
    }

    /// Runs `work` for every node index, at most `concurrency` at once.
    private func forEachNode(_ work: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(concurrency, nodes) {
                let index = next
                group.addTask { try await work(index) }
                next += 1
            }
            while try await group.next() != nil {
                if next < nodes {
                    let index = next
                    group.addTask { try await work(index) }
                    next += 1
                }
            }
        }
    }
}

/// Upload latencies, appended from many tasks.
final class LatencyLog: Sendable {
    private let storage = Mutex<[Double]>([])
    func append(_ duration: Duration) { storage.withLock { $0.append(duration.seconds) } }
    var values: [Double] { storage.withLock { $0 } }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
