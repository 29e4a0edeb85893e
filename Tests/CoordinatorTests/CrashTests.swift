import Foundation
import Testing
import Coordinator
import DrivingSimulator
import FleetWire
import PolicyNetwork
import SecureTransport

/// The real `fleet-coordinator` process killed with SIGKILL in the middle of rounds.
@Suite("crash safety of fleet-coordinator (SIGKILL)")
struct CrashTests {
    let pki = TestPKI.shared

    struct Harness {
        let executable: String
        let curl: String
        let pki: TestPKI
        let directory: URL

        var arguments: [String] {
            [
                "--port", "0", "--data-dir", directory.appendingPathComponent("data").path,
                "--cert", pki.path("server.pem"), "--key", pki.path("server.key"), "--ca-cert", pki.path("ca.pem"),
                "--revoked", pki.path("revoked.txt"), "--signing-key", pki.path("model-signing.key"),
                "--simulator", Fixture.content.root.path,
                "--gate-episodes-per-family", "1", "--gate-family", "cut-in", "--gate-family", "fog",
                "--min-participants", "2", "--quorum", "1", "--deadline", "300", "--tick-interval", "0.2",
                "--log-level", "warning",
            ]
        }

        func start() async throws -> (CoordinatorProcess, Int) {
            let process = try CoordinatorProcess(executable: executable, arguments: arguments)
            guard let port = await process.port() else {
                throw CrashTestError.didNotStart(process.text)
            }
            return (process, port)
        }

        func call(_ port: Int, _ node: String, _ method: String, _ path: String, body: [UInt8]? = nil, headers: [String] = []) async throws -> HTTPSTests.Reply {
            try await HTTPSTests.curl(curl, pki, node: node, method, "https://127.0.0.1:\(port)\(path)", body: body, headers: headers, directory: directory)
        }

        func status(_ port: Int) async throws -> API.Status {
            let reply = try await call(port, "car-1", "GET", "/v1/status")
            return try JSONDecoder().decode(API.Status.self, from: Data(reply.body.utf8))
        }

        /// Heartbeats both nodes and long-polls car-1's task (a round opens once both are alive).
        func task(_ port: Int, wait: Int = 30) async throws -> API.Task {
            for node in ["car-1", "car-2"] {
                _ = try await call(port, node, "POST", "/v1/heartbeat", body: Array(#"{"state":"idle"}"#.utf8))
            }
            let reply = try await call(port, "car-1", "GET", "/v1/task?wait=\(wait)")
            guard reply.status == 200 else { throw CrashTestError.noTask(reply.status, reply.body) }
            return try JSONDecoder().decode(API.Task.self, from: Data(reply.body.utf8))
        }

        func upload(_ port: Int, _ node: String, _ task: API.Task) async throws -> Int {
            let body = Fixture.body(Fixture.delta(node: node, round: task.round, baseVersion: task.baseVersion))
            return try await call(port, node, "PUT", "/v1/rounds/\(task.round)/updates", body: body, headers: ["Content-Encoding: zstd"]).status
        }

        /// The served model: its version, and whether the signature and the checkpoint's hash check out.
        func checkModel(_ port: Int) async throws -> (version: Int, verified: Bool) {
            let checkpointFile = directory.appendingPathComponent("model-\(UUID().uuidString.prefix(6)).zst")
            let headerFile = directory.appendingPathComponent("model-headers")
            let output = try await ExternalTool.run(curl, [
                "-sS", "-o", checkpointFile.path, "-D", headerFile.path,
            ] + pki.curlIdentity("car-1") + ["https://127.0.0.1:\(port)/v1/model"])
            guard output.status == 0 else { return (0, false) }
            var headers: [String: String] = [:]
            for line in try String(contentsOf: headerFile, encoding: .utf8).split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            guard let manifestText = headers["fleet-manifest"], let manifestBytes = Data(base64Encoded: manifestText),
                  let signatureText = headers["fleet-manifest-signature"], let signature = Data(base64Encoded: signatureText),
                  let version = headers["fleet-model-version"].flatMap({ Int($0) }) else { return (0, false) }
            let publicKey = try PublicKey(pem: String(contentsOfFile: pki.path("model-signing.pub"), encoding: .utf8))
            let manifest = try ModelManifest.decode([UInt8](manifestBytes))
            let checkpoint = try Zstd.decompress([UInt8](try Data(contentsOf: checkpointFile)), limit: 64 << 20)
            let verified = ModelSignature.isValid([UInt8](signature), of: [UInt8](manifestBytes), with: publicKey)
                && BlobStore.hash(of: checkpoint) == manifest.contentHash && manifest.version == UInt64(version)
            return (version, verified)
        }
    }

    enum CrashTestError: Error {
        case didNotStart(String)
        case noTask(Int, String)
    }

    @Test("killed with SIGKILL mid-round again and again: serves the last version, resumes, completes rounds, no file corrupt")
    func killNine() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        guard let executable = CoordinatorProcess.executable() else {
            print("skipped: the fleet-coordinator executable was not found beside the test bundle (run `swift build` first)"); return
        }
        let directory = Fixture.temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        let harness = Harness(executable: executable, curl: curl, pki: pki, directory: directory)

        // Round 1: one update acknowledged, then kill -9 twice.
        var (process, port) = try await harness.start()
        let first = try await harness.task(port)
        #expect(first.baseVersion == 1)
        #expect(try await harness.upload(port, "car-1", first) == 202)
        for _ in 0..<2 {
            process.stop(SIGKILL)
            (process, port) = try await harness.start()
            let status = try await harness.status(port)
            #expect(status.currentVersion == 1)
            #expect(status.round?.number == first.round && status.round?.accepted == 1, "the acknowledged update survives")
            #expect(try await harness.checkModel(port) == (1, true))
        }
        // The round completes after the restarts; the next one opens on version 2.
        #expect(try await harness.upload(port, "car-2", first) == 202)
        let second = try await harness.task(port)
        #expect(second.baseVersion == 2 && second.round > first.round)
        #expect(try await harness.checkModel(port) == (2, true))

        // Round 2: killed right after an upload, then right after the quorum (mid aggregation/gate).
        #expect(try await harness.upload(port, "car-1", second) == 202)
        process.stop(SIGKILL)
        (process, port) = try await harness.start()
        #expect(try await harness.status(port).round?.accepted == 1)
        #expect(try await harness.checkModel(port) == (2, true))
        #expect(try await harness.upload(port, "car-2", second) == 202)
        process.stop(SIGKILL)
        (process, port) = try await harness.start()
        let third = try await harness.task(port)
        let trail = try CoordinatorStore(path: directory.appendingPathComponent("data/state.sqlite").path).auditTrail(limit: 8)
        #expect(third.baseVersion == 3, "the closed round was aggregated and gated after the restart: \(trail.map { "\($0.kind) \($0.subject): \($0.detail)" })")
        #expect(try await harness.checkModel(port) == (3, true))
        process.stop(SIGTERM)
        #expect(process.terminationStatus == 0, "graceful shutdown on SIGTERM: \(process.text.suffix(500))")

        // No file is corrupt: SQLite's integrity check, every blob matches its name.
        let data = directory.appendingPathComponent("data")
        let store = try CoordinatorStore(path: data.appendingPathComponent("state.sqlite").path)
        #expect(try store.integrityCheck() == "ok")
        let blobs = try BlobStore(directory: data.appendingPathComponent("blobs"))
        let names = try FileManager.default.contentsOfDirectory(atPath: blobs.directory.path)
        #expect(!names.isEmpty)
        for name in names {
            #expect(throws: Never.self, "blob \(name)") { _ = try blobs.get("sha256:" + name) }
        }
        let versions = try store.versions()
        #expect(versions.map(\.version) == [3, 2, 1])
        for version in versions { #expect(blobs.contains(version.contentHash)) }
        // Exactly one version per round: nothing was aggregated twice.
        let rounds = versions.compactMap { try? ModelManifest.decode([UInt8]($0.manifest)).round }
        #expect(Set(rounds).count == rounds.count)
    }
}

/// The real `fleet-coordinator` process against a node with a valid
/// certificate that sends what no honest node would.
@Suite("a hostile node cannot crash fleet-coordinator")
struct HostileProcessTests {
    let pki = TestPKI.shared

    @Test("an update whose routing counts sum past 2⁶⁴ is refused; the coordinator keeps serving, restarts and publishes the next version")
    func poisonUpload() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        guard let executable = CoordinatorProcess.executable() else {
            print("skipped: the fleet-coordinator executable was not found beside the test bundle (run `swift build` first)"); return
        }
        let directory = Fixture.temporaryDirectory("poison")
        defer { try? FileManager.default.removeItem(at: directory) }
        let harness = CrashTests.Harness(executable: executable, curl: curl, pki: pki, directory: directory)

        var (process, port) = try await harness.start()
        let task = try await harness.task(port)
        let poison = Fixture.body(Fixture.poison(node: "car-1", round: task.round, baseVersion: task.baseVersion))
        let refused = try await harness.call(port, "car-1", "PUT", "/v1/rounds/\(task.round)/updates", body: poison, headers: ["Content-Encoding: zstd"])
        #expect(refused.status == 400 && refused.body.contains("\"error\":\"invalid_update\""), "\(refused.status) \(refused.body)")
        // Path numbers past Int64 on every numbered route.
        for path in ["/v1/models/9223372036854775808", "/v1/models/18446744073709551615/delta", "/v1/versions/9223372036854775808"] {
            let reply = try await harness.call(port, "car-1", "GET", path)
            #expect(reply.status == 404, "\(path): \(reply.status) \(reply.body)")
        }
        #expect(try await harness.status(port).round?.accepted == 0, "nothing of the poison was acknowledged")

        // A restart finds nothing to replay, and the round completes.
        process.stop(SIGTERM)
        (process, port) = try await harness.start()
        #expect(try await harness.status(port).currentVersion == 1)
        #expect(try await harness.upload(port, "car-1", task) == 202)
        #expect(try await harness.upload(port, "car-2", task) == 202)
        let next = try await harness.task(port)
        #expect(next.baseVersion == 2)
        #expect(try await harness.checkModel(port) == (2, true))
        process.stop(SIGTERM)
        #expect(process.terminationStatus == 0, "\(process.text.suffix(500))")
    }
}
