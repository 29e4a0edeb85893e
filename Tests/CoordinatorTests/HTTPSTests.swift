import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Testing
import Coordinator
import FleetWire
import SecureTransport

/// The API over real HTTPS on 127.0.0.1, reached with curl.
@Suite("coordinator over HTTPS (curl)")
struct HTTPSTests {
    let pki = TestPKI.shared

    /// Starts the service and its HTTPS server on a free port, runs `body`, stops both.
    func withServer(
        _ body: @Sendable (_ port: Int, _ service: CoordinatorService, _ directory: URL) async throws -> Void
    ) async throws {
        let directory = Fixture.temporaryDirectory("https")
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = PrometheusCollectorRegistry()
        var configuration = Fixture.configuration(directory: directory)
        configuration.operators = ["ops"]
        // The test walks one round on the wall clock; on a loaded CI machine
        // (process tests beside it) that can take over a minute.
        configuration.rounds.deadline = 1_800
        // …and car-2's heartbeat must still count when the round opens, or
        // car-1 alone is invited and its first update closes the round.
        configuration.rounds.heartbeatTimeout = 3_600
        let service = try await Fixture.service(
            configuration, clock: SystemCoordinatorClock(),
            metrics: CoordinatorMetrics(factory: PrometheusMetricsFactory(registry: registry))
        )
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let application = try CoordinatorHTTPServer.application(
            service: service,
            configuration: .init(host: "127.0.0.1", port: 0, tls: pki.serverConfiguration(), revocationList: pki.revocationList, bodyTimeout: 10),
            metricsRegistry: registry, logger: logger,
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) }
        )
        try await serving([application, service], ports: ports, logger: logger) { port in try await body(port, service, directory) }
    }

    struct Reply {
        var status: Int
        var body: String
        var headers: String
    }

    /// One curl request; `status` 0 when curl itself failed (e.g. the handshake).
    static func curl(
        _ curl: String, _ pki: TestPKI, node: String?, _ method: String, _ url: String,
        body: [UInt8]? = nil, headers: [String] = [], directory: URL
    ) async throws -> Reply {
        let stamp = UUID().uuidString.prefix(8)
        let bodyFile = directory.appendingPathComponent("reply-\(stamp)")
        let headerFile = directory.appendingPathComponent("headers-\(stamp)")
        var arguments = ["-sS", "-X", method, "-o", bodyFile.path, "-D", headerFile.path, "-w", "%{http_code}", "--max-time", "120"]
        arguments += pki.curlIdentity(node)
        for header in headers { arguments += ["-H", header] }
        if let body {
            let upload = directory.appendingPathComponent("upload-\(stamp)")
            try Data(body).write(to: upload)
            arguments += ["--data-binary", "@" + upload.path]
        }
        arguments.append(url)
        let output = try await ExternalTool.run(curl, arguments)
        return Reply(
            status: output.status == 0 ? Int(output.stdout) ?? -1 : 0,
            body: (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? "",
            headers: (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        )
    }

    @Test("status, heartbeat, task, model with ETag, versions, metrics and the dashboard; every bad input gets its 4xx")
    func api() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        let pki = self.pki
        try await withServer { port, service, directory in
            let base = "https://127.0.0.1:\(port)"
            func call(_ node: String?, _ method: String, _ path: String, body: [UInt8]? = nil, headers: [String] = []) async throws -> Reply {
                try await Self.curl(curl, pki, node: node, method, base + path, body: body, headers: headers, directory: directory)
            }

            let status = try await call("car-1", "GET", "/v1/status")
            #expect(status.status == 200, "\(status.body)")
            #expect(status.body.contains("\"current_version\":1"))

            for node in ["car-1", "car-2"] {
                let reply = try await call(node, "POST", "/v1/heartbeat", body: Array(#"{"state":"driving","region":"alps"}"#.utf8))
                #expect(reply.status == 200, "\(reply.body)")
                #expect(reply.body.contains("\"heartbeat_interval\""))
                // The signed freshness statement of the current version, as curl sees it.
                let decoded = try JSONDecoder().decode(HeartbeatReply.self, from: Data(reply.body.utf8))
                let signed = try #require(decoded.freshness, "\(reply.body)")
                let statement = try FreshnessStatement.decode(try #require(signed.statementBytes))
                #expect(statement.version == 1 && statement.expiresAt > statement.issuedAt)
            }
            let task = try await call("car-1", "GET", "/v1/task?wait=0")
            #expect(task.status == 200, "\(task.body)")
            let round = try JSONDecoder().decode(API.Task.self, from: Data(task.body.utf8)).round

            let model = try await call("car-1", "GET", "/v1/model")
            #expect(model.status == 200)
            #expect(model.headers.lowercased().contains("etag: \"v1\""))
            #expect(model.headers.lowercased().contains("content-encoding: zstd"))
            #expect(model.headers.contains("Fleet-Manifest-Signature:"))
            #expect(try await call("car-1", "GET", "/v1/model", headers: ["If-None-Match: \"v1\""]).status == 304)
            #expect(try await call("car-1", "GET", "/v1/models/1").status == 200)
            #expect(try await call("car-1", "GET", "/v1/models/99").status == 404)
            let versions = try await call("car-1", "GET", "/v1/versions")
            #expect(versions.status == 200 && versions.body.contains("\"status\":\"published\""))
            #expect(try await call("car-1", "GET", "/v1/versions/1").body.contains("\"content_hash\""))
            #expect(try await call("car-1", "POST", "/v1/versions/1/approve").status == 403)
            let operatorReply = try await call("ops", "POST", "/v1/versions/1/approve")
            #expect(operatorReply.status == 409 && operatorReply.body.contains("not_awaiting_approval"), "\(operatorReply.body)")
            // Path numbers at and past every integer edge are a 404 with the JSON error, never a trap.
            for number in ["0", "-1", "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "1e3", "%2B1", "0x10"] {
                for (node, method, path) in [
                    ("car-1", "GET", "/v1/models/\(number)"), ("car-1", "GET", "/v1/models/\(number)/delta"),
                    ("car-1", "GET", "/v1/versions/\(number)"), ("ops", "POST", "/v1/versions/\(number)/approve"),
                ] {
                    let reply = try await call(node, method, path)
                    #expect(reply.status == 404 && reply.body.contains("\"error\":\"not_found\""), "\(method) \(path): \(reply.status) \(reply.body)")
                }
            }
            // A request the HTTP parser refuses still gets the JSON error body.
            let malformed = try await call("car-1", "GET", "/v1/status", headers: ["Bad Header: x"])
            #expect(malformed.status == 400 && malformed.body.contains("\"error\":\"invalid_request\""), "\(malformed.status) \(malformed.body)")
            let negativeCaptures = try await call("car-1", "POST", "/v1/heartbeat", body: Array(#"{"state":"idle","captures_pending":-5}"#.utf8))
            #expect(negativeCaptures.status == 400 && negativeCaptures.body.contains("captures_pending"), "\(negativeCaptures.body)")
            let versionZero = try await call("car-1", "POST", "/v1/heartbeat", body: Array(#"{"state":"idle","model_version":0}"#.utf8))
            #expect(versionZero.status == 400, "\(versionZero.body)")
            #expect(try await call("car-1", "GET", "/v1/task?wait=99").status == 400)
            #expect(try await call("car-1", "POST", "/v1/heartbeat", body: Array("{}".utf8)).status == 400)

            // Bad input: each gets its status and error code; nothing is aggregated.
            let valid = Fixture.body(Fixture.delta(node: "car-1", round: round))
            let zstd = ["Content-Encoding: zstd", "Content-Type: application/octet-stream"]
            let bad: [(String, String?, String, [UInt8], [String], Int, String)] = [
                ("garbage body", "car-1", "/v1/rounds/\(round)/updates", Array("garbage".utf8), zstd, 400, "invalid_update"),
                ("truncated zstd", "car-1", "/v1/rounds/\(round)/updates", Array(valid.prefix(valid.count / 2)), zstd, 400, "invalid_update"),
                ("decompression bomb", "car-1", "/v1/rounds/\(round)/updates", Fixture.bomb(), zstd, 413, "payload_too_large"),
                ("body over the size bound", "car-1", "/v1/rounds/\(round)/updates", [UInt8](repeating: 7, count: 2 << 20), zstd, 413, "payload_too_large"),
                ("wrong shapes", "car-1", "/v1/rounds/\(round)/updates", Fixture.body(Fixture.delta(node: "car-1", round: round, shape: [3], values: [0, 0, 0])), zstd, 400, "invalid_update"),
                ("NaN", "car-1", "/v1/rounds/\(round)/updates", Fixture.nanBody(node: "car-1", round: round), zstd, 400, "invalid_update"),
                ("routing counts past 2⁶⁴", "car-1", "/v1/rounds/\(round)/updates", Fixture.body(Fixture.poison(node: "car-1", round: round)), zstd, 400, "invalid_update"),
                ("base version 0", "car-1", "/v1/rounds/\(round)/updates", Fixture.body(Fixture.delta(node: "car-1", round: round, baseVersion: 0)), zstd, 400, "invalid_update"),
                ("update for a closed round", "car-1", "/v1/rounds/\(round + 5)/updates", Fixture.body(Fixture.delta(node: "car-1", round: round + 5)), zstd, 409, "round_closed"),
                ("not zstd", "car-1", "/v1/rounds/\(round)/updates", valid, [], 415, "unsupported_media_type"),
                ("revoked node", "car-13", "/v1/rounds/\(round)/updates", Fixture.body(Fixture.delta(node: "car-13", round: round)), zstd, 403, "forbidden"),
                ("revoked node's status", "car-13", "/v1/status", [], [], 403, "forbidden"),
            ]
            for (name, node, path, body, headers, expected, code) in bad {
                let reply = try await call(node, path.hasSuffix("updates") ? "PUT" : "GET", path, body: body.isEmpty ? nil : body, headers: headers)
                #expect(reply.status == expected, "\(name): \(reply.status) \(reply.body)")
                #expect(reply.body.contains("\"error\":\"\(code)\""), "\(name): \(reply.body)")
                #expect(reply.body.contains("\"message\":"), "\(name)")
            }
            let conflict = try await call("car-1", "PUT", "/v1/rounds/\(round + 5)/updates", body: valid, headers: zstd)
            #expect(conflict.body.contains("\"current_round\":\(round)"), "\(conflict.body)")

            let noCertificate = try await call(nil, "GET", "/v1/status")
            #expect(noCertificate.status == 0, "a client without a certificate must not complete the handshake")
            #expect(await service.status().round?.accepted == 0)

            // A valid update is accepted (202); replaying it is refused (409).
            let accepted = try await call("car-1", "PUT", "/v1/rounds/\(round)/updates", body: valid, headers: zstd)
            #expect(accepted.status == 202, "\(accepted.body)")
            #expect(accepted.body.contains("\"accepted_updates\":1"))
            let replay = try await call("car-1", "PUT", "/v1/rounds/\(round)/updates", body: valid, headers: zstd)
            #expect(replay.status == 409 && replay.body.contains("duplicate_update"), "\(replay.body)")

            // The server kept serving throughout.
            let after = try await call("car-2", "GET", "/v1/status")
            #expect(after.status == 200 && after.body.contains("\"accepted\":1"), "\(after.body)")
            let metrics = try await call("car-1", "GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains(#"fleet_updates_rejected_total{reason="invalid_update"} 6"#), "\(metrics.body)")
            #expect(metrics.body.contains("fleet_updates_accepted_total 1"), "\(metrics.body)")
            let dashboard = try await call("car-1", "GET", "/")
            #expect(dashboard.status == 200 && dashboard.body.contains("Fleet Learning coordinator"))
        }
    }
}
