import EdgeNode
import FleetWire
import NIOCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The idle-connection flood: a real `fleet-coordinator` process at its
/// default connection limits, `connections` plain TCP connections from
/// 127.0.0.1 that never start a TLS handshake (opened by worker processes of
/// this benchmark, 12,500 each, so no process needs more descriptors than a
/// hard limit of 20,000 allows), and a valid node's heartbeat measured every
/// 100 ms throughout.
///
/// What is measured:
/// - heartbeat latency of a node on its keep-alive connection (as a real
///   node talks: one connection, reused), every 100 ms;
/// - heartbeat latency of a node that connects afresh (TLS handshake
///   included) every second — the case the per-address caps could lock out;
/// - the coordinator's resident set (`VmRSS`, peak while flooded, `VmHWM`) and
///   open descriptors (`/proc/<pid>/fd`) every 100 ms;
/// - from the workers: connections opened, closed by the server, and how long
///   the server took to close them.
///
/// Only 127.0.0.1 is ever dialled.
struct IdleConnectionsRun {
    let fleet: SimulatedFleet
    let coordinator: String
    let connections: Int
    let holdSeconds: Int
    let perWorker = 12_500

    struct Sample: Sendable { var at: Double; var rss: Int; var descriptors: Int }

    func run() async throws {
        let data = fleet.directory + "/data-idle-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let child = try CoordinatorChild(executable: coordinator, arguments: fleet.coordinatorArguments(dataDirectory: data) + [
            "--heartbeat-timeout", "600", "--gate-episodes-per-family", "1", "--gate-family", "cut-in",
            "--log-level", "warning",
        ])
        defer { child.stop() }
        guard let port = await child.port() else { throw BenchmarkError("the coordinator did not start:\n\(child.text)") }
        let configuration = ConnectionConfiguration(host: "127.0.0.1", port: port, requestTimeout: .seconds(30))
        let keepAlive = try HTTPSCoordinatorConnection(configuration: configuration, tls: fleet.contexts[0])
        let heartbeat = NodeHeartbeat(state: .idle, modelVersion: 1, region: "benchmark", capturesPending: 0)
        _ = try await keepAlive.heartbeat(heartbeat)

        let start = ContinuousClock.now
        func now() -> Double { (ContinuousClock.now - start).seconds }
        let keepAliveLog = TimedLog()
        let freshLog = TimedLog()
        let samples = Locked<[Sample]>([])
        let stop = Locked(false)
        let pid = child.pid
        func sample() -> Sample {
            Sample(at: now(), rss: child.memory("VmRSS"), descriptors: Self.descriptors(of: pid))
        }

        let window = try await withThrowingTaskGroup(of: Void.self) { group -> (from: Double, to: Double, workers: [WorkerReport]) in
            group.addTask {
                while !stop.value {
                    let sent = ContinuousClock.now
                    do {
                        _ = try await keepAlive.heartbeat(heartbeat)
                        keepAliveLog.append(at: now(), (ContinuousClock.now - sent).seconds)
                    } catch { keepAliveLog.fail(at: now(), "\(error)") }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            group.addTask {
                while !stop.value {
                    let node = try HTTPSCoordinatorConnection(configuration: configuration, tls: fleet.contexts[1])
                    let sent = ContinuousClock.now
                    do {
                        _ = try await node.heartbeat(heartbeat)
                        freshLog.append(at: now(), (ContinuousClock.now - sent).seconds)
                    } catch { freshLog.fail(at: now(), "\(error)") }
                    await node.close()
                    try await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask {
                while !stop.value {
                    let value = sample()
                    samples.update { $0.append(value) }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            // Baseline, then the flood, then the aftermath.
            try await Task.sleep(for: .seconds(3))
            let from = now()
            print("flooding 127.0.0.1:\(port) with \(connections) idle connections …")
            let workers = try await flood(port: port)
            let to = now()
            try await Task.sleep(for: .seconds(5))
            stop.value = true
            try await group.waitForAll()
            return (from, to, workers)
        }
        await keepAlive.close()
        report(samples: samples.value, window: (window.from, window.to), workers: window.workers,
               keepAlive: keepAliveLog, fresh: freshLog, highWaterMark: child.memory("VmHWM"))
    }

    /// Runs the worker processes and collects their reports.
    private func flood(port: Int) async throws -> [WorkerReport] {
        let executable = CommandLine.arguments[0]
        var remaining = connections
        var processes: [(Process, Pipe)] = []
        while remaining > 0 {
            let count = min(perWorker, remaining)
            remaining -= count
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["--idle-flood-worker", "\(port)", "\(count)", "\(holdSeconds)"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            processes.append((process, pipe))
        }
        var reports: [WorkerReport] = []
        for (process, pipe) in processes {
            let output = await Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }.value
            process.waitUntilExit()
            guard let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last,
                  let report = try? JSONDecoder().decode(WorkerReport.self, from: Data(line.utf8)) else {
                throw BenchmarkError("a flood worker reported nothing: \(String(decoding: output, as: UTF8.self))")
            }
            reports.append(report)
        }
        return reports
    }

    private func report(
        samples: [Sample], window: (from: Double, to: Double), workers: [WorkerReport],
        keepAlive: TimedLog, fresh: TimedLog, highWaterMark: Int
    ) {
        let before = samples.filter { $0.at < window.from }
        let during = samples.filter { $0.at >= window.from && $0.at <= window.to }
        let after = samples.filter { $0.at > window.to }
        let baselineRSS = before.map(\.rss).max() ?? 0
        let baselineFDs = before.last?.descriptors ?? 0
        func line(_ name: String, _ log: TimedLog) {
            let values = log.values.filter { $0.at >= window.from && $0.at <= window.to }.map(\.seconds)
            let failures = log.failures.filter { $0.at >= window.from && $0.at <= window.to }
            print(String(
                format: "| %@ | %d | %d | %.2f | %.2f | %.2f |", name, values.count, failures.count,
                percentile(values, 50) * 1e3, percentile(values, 99) * 1e3, (values.max() ?? 0) * 1e3
            ))
            for failure in failures.prefix(3) { print("  failure at \(String(format: "%.1f", failure.at)) s: \(failure.message)") }
        }
        let opened = workers.map(\.opened).reduce(0, +)
        let refusedConnects = workers.map(\.connectFailures).reduce(0, +)
        let closed = workers.map(\.closedByServer).reduce(0, +)
        let closeTimes = workers.flatMap(\.closeMilliseconds)
        print(String(format: "\nflood: %.1f s; %d connections opened (%d connect() failures), %d closed by the server", window.to - window.from, opened, refusedConnects, closed))
        print(String(
            format: "time from connect to the server's close: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
            percentile(closeTimes, 50), percentile(closeTimes, 90), percentile(closeTimes, 99), closeTimes.max() ?? 0
        ))
        print("\nheartbeats during the flood:")
        print("| node | answered | failed | p50 ms | p99 ms | max ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        line("keep-alive connection, every 100 ms", keepAlive)
        line("new connection (TLS handshake) every 1 s", fresh)
        print("\ncoordinator:")
        print("| | before | peak during flood | after |")
        print("| --- | ---: | ---: | ---: |")
        print("| RSS | \(megabytes(baselineRSS)) | \(megabytes(during.map(\.rss).max() ?? 0)) | \(megabytes(after.last?.rss ?? 0)) |")
        print("| open descriptors | \(baselineFDs) | \(during.map(\.descriptors).max() ?? 0) | \(after.last?.descriptors ?? 0) |")
        print("VmHWM over the whole run: \(megabytes(highWaterMark))")
    }

    static func descriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? 0
    }
}

/// A value shared between tasks.
final class Locked<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}

/// Latencies and failures with the time they happened.
final class TimedLog: Sendable {
    private let storage = Mutex<(values: [(at: Double, seconds: Double)], failures: [(at: Double, message: String)])>(([], []))
    func append(at: Double, _ seconds: Double) { storage.withLock { $0.values.append((at, seconds)) } }
    func fail(at: Double, _ message: String) { storage.withLock { $0.failures.append((at, message)) } }
    var values: [(at: Double, seconds: Double)] { storage.withLock { $0.values } }
    var failures: [(at: Double, message: String)] { storage.withLock { $0.failures } }
}

/// What one flood worker saw.
struct WorkerReport: Codable {
    var opened: Int
    var connectFailures: Int
    var closedByServer: Int
    /// Per connection the server closed: milliseconds from connect to the close.
    var closeMilliseconds: [Double]
}

/// A flood worker process: opens `count` plain TCP connections to
/// 127.0.0.1:`port` as fast as it can, never sends a byte, holds each until
/// the server closes it or `hold` seconds have passed, then prints its
/// ``WorkerReport`` as one JSON line.
enum FloodWorker {
    static func run(port: Int, count: Int, hold: Int) -> Never {
        var limit = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        if getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
        }
        let start = ContinuousClock.now
        var open: [(fd: Int32, at: ContinuousClock.Instant)] = []
        var report = WorkerReport(opened: 0, connectFailures: 0, closedByServer: 0, closeMilliseconds: [])
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")

        func reap(waiting milliseconds: Int32) {
            var polls = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            guard !polls.isEmpty, poll(&polls, nfds_t(polls.count), milliseconds) > 0 else { return }
            var byte: UInt8 = 0
            var keep: [(fd: Int32, at: ContinuousClock.Instant)] = []
            for (index, entry) in polls.enumerated() {
                if entry.revents != 0 {
                    let received = recv(entry.fd, &byte, 1, Int32(MSG_DONTWAIT))
                    if received == 0 || (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                        report.closedByServer += 1
                        report.closeMilliseconds.append((ContinuousClock.now - open[index].at).seconds * 1e3)
                        close(entry.fd)
                        continue
                    }
                }
                keep.append(open[index])
            }
            open = keep
        }

        for index in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { report.connectFailures += 1; continue }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { close(fd); report.connectFailures += 1; continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            open.append((fd, ContinuousClock.now))
            report.opened += 1
            if index % 500 == 499 { reap(waiting: 0) }
        }
        let deadline = start + .seconds(hold)
        while !open.isEmpty && ContinuousClock.now < deadline { reap(waiting: 100) }
        for entry in open { close(entry.fd) }
        let line = String(decoding: try! JSONEncoder().encode(report), as: UTF8.self)
        print(line)
        exit(0)
    }
}
