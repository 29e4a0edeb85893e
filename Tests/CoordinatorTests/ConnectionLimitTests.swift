import Foundation
import Testing
import Coordinator
import SecureTransport

/// The real `fleet-coordinator` process under an idle-connection flood from
/// 127.0.0.1: connections that never start a TLS handshake.
///
/// What is asserted are facts, not speeds: the server closes every connection
/// past its caps, holds no more than the per-address cap of them, answers a
/// valid node's requests meanwhile, closes the rest at the handshake timeout,
/// and ends with as many file descriptors as it started with. How fast it
/// answers under 25,000 such connections is measured by
/// `fleet-load-benchmark --idle-connections` (BENCHMARKS.md).
@Suite("connection limits of fleet-coordinator (idle-connection flood)")
struct ConnectionLimitTests {
    let pki = TestPKI.shared

    static let flood = 2_000
    static let pendingPerAddress = 64

    @Test("2,000 idle connections from 127.0.0.1: all past the cap closed by the server, a node's requests answered, fds back to baseline")
    func idleFlood() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        guard let executable = CoordinatorProcess.executable() else {
            print("skipped: the fleet-coordinator executable was not found beside the test bundle (run `swift build` first)"); return
        }
        guard FileManager.default.fileExists(atPath: "/proc/self/fd") else {
            print("skipped: /proc/<pid>/fd is not available to count the coordinator's descriptors"); return
        }
        if let reason = Descriptors.ensureLimit(Self.flood + 1_024) {
            print("skipped: \(reason)"); return
        }
        let directory = Fixture.temporaryDirectory("conn-limits")
        defer { try? FileManager.default.removeItem(at: directory) }
        let harness = CrashTests.Harness(executable: executable, curl: curl, pki: pki, directory: directory)
        let process = try CoordinatorProcess(executable: executable, arguments: harness.arguments + [
            "--max-connections", "512", "--max-pending-handshakes", "128",
            "--max-pending-handshakes-per-address", "\(Self.pendingPerAddress)", "--handshake-timeout", "5",
        ])
        defer { process.stop(SIGKILL) }
        guard let port = await process.port() else {
            Issue.record("the coordinator did not start: \(process.text)"); return
        }
        let pid = process.pid

        // A first request opens what the server opens lazily; then the count settles.
        #expect(try await harness.call(port, "car-1", "GET", "/v1/status").status == 200)
        let baseline = try #require(await settledCount(pid))

        let sockets = try IdleSockets(port: port, count: Self.flood)
        // Each new silent connection past the per-address cap makes the server close the oldest silent one.
        let capped = sockets.wait(upTo: .seconds(60)) { $0.openCount <= Self.pendingPerAddress }
        #expect(capped, "the server still holds \(sockets.openCount) of \(Self.flood) idle connections")
        #expect(sockets.closedCount >= Self.flood - Self.pendingPerAddress)
        let during = try #require(Descriptors.count(of: pid))
        #expect(during <= baseline + Self.pendingPerAddress + 16, "\(during) descriptors while flooded, \(baseline) before")

        // A node connecting from the same address meanwhile is served: the flood's silent
        // connections make room for one that speaks.
        let heartbeat = try await harness.call(port, "car-1", "POST", "/v1/heartbeat", body: Array(#"{"state":"idle"}"#.utf8))
        #expect(heartbeat.status == 200, "\(heartbeat.body)")
        let metrics = try await harness.call(port, "car-2", "GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("fleet_connections_open "), "\(metrics.body.prefix(2_000))")
        let evicted = metrics.body.split(separator: "\n").first { $0.hasPrefix("fleet_connections_evicted_total ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        #expect(evicted > 0, "no silent connection was closed to make room")
        print("flood of \(Self.flood): \(sockets.closedCount) closed by the server, \(sockets.openCount) held; coordinator descriptors \(baseline) before, \(during) while flooded; \(Int(evicted)) evicted")

        // The handshake timeout closes the ones still held.
        let drained = sockets.wait(upTo: .seconds(60)) { $0.openCount == 0 }
        #expect(drained, "\(sockets.openCount) idle connections outlived the 5 s handshake timeout")
        sockets.closeAll()

        // Every descriptor the flood cost the server is returned.
        var after = Descriptors.count(of: pid) ?? .max
        let deadline = ContinuousClock.now + .seconds(30)
        while after > baseline + 2 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            after = Descriptors.count(of: pid) ?? .max
        }
        #expect(after <= baseline + 2, "\(after) descriptors after the flood, \(baseline) before")
        #expect(try await harness.call(port, "car-1", "GET", "/v1/status").status == 200)

        process.stop(SIGTERM)
        #expect(process.terminationStatus == 0, "graceful shutdown on SIGTERM: \(process.text.suffix(500))")
    }

    @Test("serve refuses connection limits out of range before opening anything, naming the flag", arguments: [
        (["--max-connections", "0"], "--max-connections"),
        (["--max-connections-per-address", "0"], "--max-connections-per-address"),
        (["--max-connections", "100", "--max-pending-handshakes", "200", "--max-pending-handshakes-per-address", "10"], "--max-pending-handshakes"),
        (["--max-pending-handshakes-per-address", "2000"], "--max-pending-handshakes-per-address"),
        (["--handshake-timeout", "0"], "--handshake-timeout"),
    ])
    func invalidLimits(_ arguments: [String], _ flag: String) async throws {
        guard let executable = CoordinatorProcess.executable() else {
            print("skipped: the fleet-coordinator executable was not found beside the test bundle (run `swift build` first)"); return
        }
        let directory = Fixture.temporaryDirectory("conn-limits-cli")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try await ExternalTool.run(executable, ["serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path] + arguments)
        #expect(output.status != 0)
        #expect(output.stderr.contains(flag + " "), "\(output.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data").path), "nothing is created before validation")
    }

    /// The descriptor count once it has stopped changing (three equal readings in a row).
    func settledCount(_ pid: Int32) async -> Int? {
        var previous = Descriptors.count(of: pid)
        var same = 0
        for _ in 0..<100 where same < 3 {
            try? await Task.sleep(for: .milliseconds(100))
            let now = Descriptors.count(of: pid)
            same = now == previous ? same + 1 : 0
            previous = now
        }
        return previous
    }
}
