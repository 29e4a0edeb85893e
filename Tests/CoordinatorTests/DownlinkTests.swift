import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing
import Aggregation
import Coordinator
import FleetWire
import PolicyNetwork
import SecureTransport

/// Nodes that hold the parent download the published change, not the checkpoint.
@Suite("downlink deltas", .serialized)
struct DownlinkTests {
    /// Runs one round with two nodes on the current version until it is published; returns the new version.
    static func publishRound(_ service: CoordinatorService) async throws -> UInt64 {
        let base = await service.currentVersion
        for node in ["car-1", "car-2"] { _ = await service.heartbeat(from: node, .init(state: .driving)) }
        await service.tick()
        let round = try #require(await service.task(for: "car-1")).round
        for (node, scale) in [("car-1", Float(1e-3)), ("car-2", Float(3e-4))] {
            _ = try await service.submitUpdate(
                from: node, round: round,
                body: Fixture.body(Fixture.delta(node: node, round: round, baseVersion: base, scale: scale, name: "experts.0.fc1.weight")))
        }
        await service.tick()
        let version = await service.currentVersion
        try #require(version == base + 1, "round \(round) was not published")
        return version
    }

    /// The policy a node holding `version` has (loaded from the served checkpoint, as a node does).
    static func heldPolicy(_ service: CoordinatorService, _ version: UInt64) async throws -> MoEPolicy {
        let served = try await service.model(version: version)
        return try MoEPolicy(checkpoint: try Zstd.decompress(served.compressedCheckpoint, limit: 64 << 20))
    }

    @Test("the published delta applied to the parent rebuilds the version's checkpoint bit for bit, and outlives a restart")
    func roundTripExact() async throws {
        let directory = Fixture.temporaryDirectory("downlink")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = Fixture.configuration(directory: directory)
        let clock = ManualClock()
        let served: ServedDelta
        do {
            let service = try await Fixture.service(configuration, clock: clock)
            let version = try await Self.publishRound(service)
            guard case .delta(let delta) = await service.modelAnswer(forNodeHolding: 1) else {
                Issue.record("a node holding the parent must get the delta")
                return
            }
            served = delta
            #expect(served.version == version && served.parent == 1 && served.etag == "\"v2\"")
            let decoded = try DeltaCodec.decodeCompressed(served.compressedDelta, limits: Fixture.deltaLimits)
            #expect(decoded.baseVersion == 1 && decoded.architecture == Fixture.basePolicy.architecture.hash)
            #expect(decoded.tensors.allSatisfy { $0.role == .difference })

            let rebuilt = try DeltaPatch.apply(decoded, to: try await Self.heldPolicy(service, 1)).checkpoint()
            let record = try service.version(version)
            #expect(BlobStore.hash(of: rebuilt) == record.manifest.contentHash)
            #expect(rebuilt == (try Zstd.decompress(await service.currentModel().compressedCheckpoint, limit: 64 << 20)))
            // Much smaller than the checkpoint: only the changed entries, one byte each.
            #expect(served.compressedDelta.count * 10 < (await service.currentModel()).compressedCheckpoint.count)
            // Stored beside the version, durably.
            let hash = try #require(try service.store.version(version)?.deltaHash)
            let referenced = try service.store.referencedBlobs()
            #expect(service.blobs.contains(hash) && referenced.contains(hash))
        }
        let restarted = try await Fixture.service(configuration, clock: clock)
        guard case .delta(let again) = await restarted.modelAnswer(forNodeHolding: 1) else {
            Issue.record("after a restart the stored delta is served again")
            return
        }
        #expect(again.compressedDelta == served.compressedDelta && again.manifestBase64 == served.manifestBase64)
        #expect(try await restarted.modelDelta(version: 2).compressedDelta == served.compressedDelta)
    }

    @Test("a node one version behind gets the delta; further behind, or with nothing, the checkpoint; current, 304")
    func fallbackBeyondTheChain() async throws {
        let directory = Fixture.temporaryDirectory("downlink-chain")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try await Fixture.service(Fixture.configuration(directory: directory))
        _ = try await Self.publishRound(service)
        let current = try await Self.publishRound(service)
        #expect(current == 3)

        guard case .delta(let delta) = await service.modelAnswer(forNodeHolding: 2) else {
            Issue.record("a node holding v2 must get the delta to v3")
            return
        }
        #expect(delta.parent == 2 && delta.version == 3)
        for held in [nil, 1, 7] as [UInt64?] {
            guard case .checkpoint(let model) = await service.modelAnswer(forNodeHolding: held) else {
                Issue.record("a node holding \(held.map(String.init) ?? "nothing") must get the checkpoint")
                continue
            }
            #expect(model.version == 3)
        }
        guard case .notModified = await service.modelAnswer(forNodeHolding: 3) else {
            Issue.record("a node holding the current version must get 304")
            return
        }
        // Two deltas in a row rebuild v3 from v1 exactly (what a node that kept up gets).
        var policy = try await Self.heldPolicy(service, 1)
        for version in [UInt64(2), 3] {
            policy = try DeltaPatch.apply(
                try DeltaCodec.decodeCompressed(try await service.modelDelta(version: version).compressedDelta), to: policy)
        }
        #expect(BlobStore.hash(of: policy.checkpoint()) == (try service.version(3)).manifest.contentHash)
        await #expect(throws: CoordinatorError(.notFound, "")) { _ = try await service.modelDelta(version: 1) }
        await #expect(throws: CoordinatorError(.notFound, "")) { _ = try await service.modelDelta(version: 9) }
    }

    @Test("the published version is parent + the compressed step, and the step's remainder is carried to the next version")
    func serverErrorFeedback() async throws {
        let directory = Fixture.temporaryDirectory("downlink-feedback")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = Fixture.configuration(directory: directory)
        // One entry of each changed tensor per round: most of the step waits for later rounds.
        configuration.downlink = .init(fraction: 5e-5, quantize: true)
        let service = try await Fixture.service(configuration)
        _ = try await Self.publishRound(service)
        // Both rounds' mean step is (i mod 3) × 6.5e-4 on this tensor (two nodes, equal weights).
        let name = "experts.0.fc1.weight", largest: Float = 2 * 6.5e-4
        let v1 = try await Self.heldPolicy(service, 1).parameterSet()[name]!.scalars
        let v2 = try await Self.heldPolicy(service, 2).parameterSet()[name]!.scalars
        // Round 1 sends the first of the largest entries, index 2, and keeps the rest.
        #expect(v1.indices.filter { v1[$0] != v2[$0] } == [2])
        #expect(abs((v2[2] - v1[2]) - largest) < 1e-5)
        _ = try await Self.publishRound(service)
        let v3 = try await Self.heldPolicy(service, 3).parameterSet()[name]!.scalars
        // Round 2: index 5 now holds this round's step plus last round's remainder, twice the
        // largest single step, so it is the one sent — the remainder was carried, not dropped.
        #expect(v2.indices.filter { v2[$0] != v3[$0] } == [5])
        #expect(abs((v3[5] - v2[5]) - 2 * largest) < 2e-5)
    }

    /// The HTTPS server in front of `service` (driven by hand, not by its timer) on a free port of 127.0.0.1.
    static func withServer(
        _ service: CoordinatorService, _ body: @Sendable (_ port: Int) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let application = try CoordinatorHTTPServer.application(
            service: service,
            configuration: .init(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverConfiguration(), revocationList: TestPKI.shared.revocationList),
            metricsRegistry: nil, logger: logger,
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) }
        )
        try await serving([application], ports: ports, logger: logger, body: body)
    }

    /// What curl received: status, headers (lower-cased) and the body's bytes.
    struct Reply {
        var status: Int
        var headers: String
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func get(_ curl: String, _ url: String, headers: [String] = [], directory: URL) async throws -> Reply {
        let stamp = UUID().uuidString.prefix(8)
        let bodyFile = directory.appendingPathComponent("body-\(stamp)"), headerFile = directory.appendingPathComponent("head-\(stamp)")
        var arguments = ["-sS", "-o", bodyFile.path, "-D", headerFile.path, "-w", "%{http_code}", "--max-time", "60"]
        arguments += TestPKI.shared.curlIdentity("car-1")
        for header in headers { arguments += ["-H", header] }
        arguments.append(url)
        let output = try await ExternalTool.run(curl, arguments)
        return Reply(
            status: output.status == 0 ? Int(output.stdout) ?? -1 : 0,
            headers: ((try? String(contentsOf: headerFile, encoding: .utf8)) ?? "").lowercased(),
            body: (try? [UInt8](Data(contentsOf: bodyFile))) ?? [])
    }

    @Test("GET /v1/model with If-None-Match of the parent (accepting deltas) answers the delta; /v1/models/{v}/delta serves it to curl; bad versions get JSON errors")
    func httpRoutes() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        let directory = Fixture.temporaryDirectory("downlink-http")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try await Fixture.service(Fixture.configuration(directory: directory))
        _ = try await Self.publishRound(service)
        guard case .delta(let served) = await service.modelAnswer(forNodeHolding: 1) else {
            Issue.record("no delta to serve")
            return
        }
        let checkpoint = await service.currentModel().compressedCheckpoint
        try await Self.withServer(service) { port in
            let base = "https://127.0.0.1:\(port)"
            func get(_ path: String, _ headers: [String] = []) async throws -> Reply {
                try await Self.get(curl, base + path, headers: headers, directory: directory)
            }
            let accept = "Accept: application/vnd.fleet.model-delta, application/octet-stream"
            let delta = try await get("/v1/model", ["If-None-Match: \"v1\"", accept])
            #expect(delta.status == 200, "\(delta.text)")
            #expect(delta.headers.contains("content-type: application/vnd.fleet.model-delta"))
            #expect(delta.headers.contains("content-encoding: zstd"))
            #expect(delta.headers.contains("etag: \"v2\""))
            #expect(delta.headers.contains("fleet-model-version: 2") && delta.headers.contains("fleet-model-parent: 1"))
            #expect(delta.headers.contains("fleet-manifest:") && delta.headers.contains("fleet-manifest-signature:"))
            #expect(delta.body == served.compressedDelta)

            let byVersion = try await get("/v1/models/2/delta")
            #expect(byVersion.status == 200 && byVersion.body == served.compressedDelta)

            // Not the parent, not a version tag, nothing, or a client that does not accept deltas:
            // the checkpoint. The current version: 304.
            for headers in [["If-None-Match: \"v7\"", accept], ["If-None-Match: \"latest\"", accept], [accept], ["If-None-Match: \"v1\""]] {
                let full = try await get("/v1/model", headers)
                #expect(full.status == 200 && full.headers.contains("content-type: application/octet-stream"), "\(headers)")
                #expect(full.body == checkpoint, "\(headers)")
            }
            #expect(try await get("/v1/model", ["If-None-Match: \"v2\""]).status == 304)

            for (path, status) in [("/v1/models/1/delta", 404), ("/v1/models/99/delta", 404), ("/v1/models/zero/delta", 404)] {
                let refused = try await get(path)
                #expect(refused.status == status, "\(path): \(refused.text)")
                #expect(refused.text.contains("\"error\":\"not_found\"") && refused.text.contains("\"message\":"), "\(path): \(refused.text)")
            }
        }
    }

    @Test("a node naming its weights' hash gets a 304 with that version's signed manifest when they are the version asked for, else the checkpoint")
    func provisionedWeights() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        let directory = Fixture.temporaryDirectory("downlink-provisioned")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try await Fixture.service(Fixture.configuration(directory: directory))
        _ = try await Self.publishRound(service)
        let seed = try await service.model(version: 1), current = await service.currentModel()
        #expect(seed.contentTag.hasPrefix("\"sha256:") && seed.contentTag != current.contentTag)
        try await Self.withServer(service) { port in
            func get(_ path: String, _ tag: String) async throws -> Reply {
                try await Self.get(curl, "https://127.0.0.1:\(port)" + path, headers: ["If-None-Match: " + tag], directory: directory)
            }
            for (path, tag, version) in [("/v1/models/1", seed.contentTag, 1), ("/v1/model", current.contentTag, 2)] {
                let confirmed = try await get(path, tag)
                #expect(confirmed.status == 304, "\(path)")
                #expect(confirmed.body.isEmpty)
                #expect(confirmed.headers.contains("fleet-model-version: \(version)"), "\(path)")
                #expect(confirmed.headers.contains("fleet-manifest:") && confirmed.headers.contains("fleet-manifest-signature:"), "\(path)")
            }
            // The seed's weights are not the current version; a hash of nothing held is no match.
            let wrong = "\"sha256:" + String(repeating: "0", count: 64) + "\""
            for (path, tag, expected) in [("/v1/model", seed.contentTag, current), ("/v1/models/1", wrong, seed)] {
                let full = try await get(path, tag)
                #expect(full.status == 200, "\(path) \(tag)")
                #expect(full.body == expected.compressedCheckpoint, "\(path) \(tag)")
            }
        }
    }
}
