import Foundation
import Testing
import Aggregation
import Coordinator
import FleetWire
import PolicyNetwork
import SecureTransport

@Suite("coordinator service (in-process)")
struct CoordinatorServiceTests {
    /// Opens a round with `nodes` alive and returns its number.
    func openRound(_ service: CoordinatorService, nodes: [String]) async throws -> UInt64 {
        for node in nodes { _ = await service.heartbeat(from: node, .init(state: .driving)) }
        await service.tick()
        let task = try #require(await service.task(for: nodes[0]))
        return task.round
    }

    @Test("a round collects, closes at quorum, is gated and publishes a signed version")
    func fullRound() async throws {
        let directory = Fixture.temporaryDirectory("round")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = Fixture.configuration(directory: directory)
        // Every changed entry in the downlink delta (int8): the whole step reaches the version, within int8 precision.
        configuration.downlink = .init(fraction: 1, quantize: true)
        let service = try await Fixture.service(configuration)
        #expect(await service.currentVersion == 1)
        #expect(await service.task(for: "car-1") == nil)  // nobody else alive yet: no round

        let round = try await openRound(service, nodes: ["car-1", "car-2"])
        let task = try #require(await service.task(for: "car-2"))
        #expect(task.round == round && task.baseVersion == 1 && task.deadlineSeconds == 60)

        let first = try await service.submitUpdate(from: "car-1", round: round, body: Fixture.body(Fixture.delta(node: "car-1", round: round)))
        #expect(first.acceptedUpdates == 1 && first.staleness == 0 && first.clipped == false)
        #expect(await service.status().round?.accepted == 1)
        _ = try await service.submitUpdate(from: "car-2", round: round, body: Fixture.body(Fixture.delta(node: "car-2", round: round)))
        #expect(await service.status().round?.phase == "aggregating")

        let acknowledged = try service.store.acceptedUpdates(round: round)
        #expect(acknowledged.count == 2 && acknowledged.allSatisfy { service.blobs.contains($0.blobHash) })
        await service.tick()  // aggregates and gates
        #expect(await service.currentVersion == 2)
        let version = try service.version(2)
        #expect(version.status == .published)
        #expect(version.manifest.parent == 1 && version.manifest.round == round)
        #expect(version.manifest.contributors == ["car-1", "car-2"])
        #expect(version.manifest.gate?.verdict == "promoted")
        #expect(version.manifest.aggregation?.updates == 2)
        #expect(ModelSignature.isValid(try #require(version.signature), of: version.manifestBytes, with: Fixture.signingKey.publicKey))

        // The served checkpoint is the new version and matches its manifest's hash.
        let served = await service.currentModel()
        #expect(served.version == 2 && served.etag == "\"v2\"")
        let checkpoint = try Zstd.decompress(served.compressedCheckpoint, limit: 64 << 20)
        #expect(BlobStore.hash(of: checkpoint) == version.manifest.contentHash)
        let policy = try MoEPolicy(checkpoint: checkpoint)
        let expected = Fixture.delta(node: "x", round: 0).tensors[0].denseValues()
        let before = Fixture.basePolicy.parameterSet()["experts.0.fc2.bias"]!.scalars
        let after = policy.parameterSet()["experts.0.fc2.bias"]!.scalars
        for index in before.indices { #expect(abs(after[index] - before[index] - expected[index]) < 1e-6) }
        // An expert nobody touched is exactly as it was.
        #expect(policy.parameterSet()["experts.1.fc1.weight"] == Fixture.basePolicy.parameterSet()["experts.1.fc1.weight"])
        // Update bodies of a finished round are removed; the rows stay for the audit.
        #expect(try service.store.acceptedUpdates(round: round).map(\.node) == ["car-1", "car-2"])
        #expect(acknowledged.allSatisfy { !service.blobs.contains($0.blobHash) })
        #expect(try service.store.round(round)?.status == .published)
    }

    @Test("bad updates get their error, and nothing of them is aggregated")
    func badUpdates() async throws {
        let directory = Fixture.temporaryDirectory("bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try await Fixture.service(Fixture.configuration(directory: directory))
        let round = try await openRound(service, nodes: ["car-1", "car-2", "car-3"])
        let valid = Fixture.body(Fixture.delta(node: "car-1", round: round))

        let cases: [(String, String, UInt64, [UInt8], CoordinatorError.Code)] = [
            ("garbage body", "car-1", round, Array("not a delta".utf8), .invalidUpdate),
            ("truncated zstd", "car-1", round, Array(valid.prefix(valid.count / 2)), .invalidUpdate),
            ("decompression bomb", "car-1", round, Fixture.bomb(), .payloadTooLarge),
            ("wrong shape", "car-1", round, Fixture.body(Fixture.delta(node: "car-1", round: round, shape: [3], values: [0, 0, 0])), .invalidUpdate),
            ("unknown tensor", "car-1", round, Fixture.body(Fixture.delta(node: "car-1", round: round, name: "experts.99.fc2.bias", shape: [2], values: [0, 0])), .invalidUpdate),
            ("NaN", "car-1", round, Fixture.nanBody(node: "car-1", round: round), .invalidUpdate),
            ("closed (future) round", "car-1", round + 1, Fixture.body(Fixture.delta(node: "car-1", round: round + 1)), .roundClosed),
            ("stale base version", "car-1", round, Fixture.body(Fixture.delta(node: "car-1", round: round, baseVersion: 7)), .staleUpdate),
            ("body names another node", "car-1", round, Fixture.body(Fixture.delta(node: "car-2", round: round)), .forbidden),
            ("node not invited", "stranger", round, Fixture.body(Fixture.delta(node: "stranger", round: round)), .notParticipant),
        ]
        for (name, node, number, body, code) in cases {
            await #expect(throws: CoordinatorError(code, ""), "\(name)") {
                _ = try await service.submitUpdate(from: node, round: number, body: body)
            }
        }
        #expect(await service.status().round?.accepted == 0)
        #expect(try service.store.acceptedUpdates(round: round).isEmpty)

        // The valid one still goes through; sending it again is a replay.
        _ = try await service.submitUpdate(from: "car-1", round: round, body: valid)
        await #expect(throws: CoordinatorError(.duplicateUpdate, "")) {
            _ = try await service.submitUpdate(from: "car-1", round: round, body: valid)
        }
        #expect(await service.status().round?.accepted == 1)
    }

    @Test("a round past its deadline closes with the updates it has; late updates get 409")
    func deadline() async throws {
        let directory = Fixture.temporaryDirectory("deadline")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualClock()
        let service = try await Fixture.service(Fixture.configuration(directory: directory), clock: clock)
        let round = try await openRound(service, nodes: ["car-1", "car-2", "car-3"])
        _ = try await service.submitUpdate(from: "car-1", round: round, body: Fixture.body(Fixture.delta(node: "car-1", round: round)))
        // The others keep heartbeating (slow, not dead), so only the deadline closes the round.
        clock.advance(by: 30)
        for node in ["car-2", "car-3"] { _ = await service.heartbeat(from: node, .init(state: .adapting)) }
        await service.tick()
        #expect(await service.status().round?.phase == "collecting")
        clock.advance(by: 31)
        await service.tick()
        #expect(await service.currentVersion == 2)
        #expect(try service.version(2).manifest.contributors == ["car-1"])
        await #expect(throws: CoordinatorError(.roundClosed, "")) {
            _ = try await service.submitUpdate(from: "car-2", round: round, body: Fixture.body(Fixture.delta(node: "car-2", round: round)))
        }
    }

    /// The clock's waits never end by themselves here: only the round opening
    /// can answer the poll (a lost wake-up would hit the time limit).
    @Test("a long poll returns when a round opens, woken by the event", .timeLimit(.minutes(30)))
    func longPoll() async throws {
        let directory = Fixture.temporaryDirectory("poll")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try await Fixture.service(Fixture.configuration(directory: directory), clock: ManualClock(waitsEnd: false))
        _ = await service.heartbeat(from: "car-1", .init(state: .idle))
        async let task = service.task(for: "car-1", wait: 20)
        // car-2 arriving makes two live nodes; its own task request opens the round.
        _ = await service.heartbeat(from: "car-2", .init(state: .idle))
        _ = await service.task(for: "car-2")
        let answer = await task
        #expect(answer?.round == 1 && answer?.baseVersion == 1)
    }

    @Test("after a restart the open round resumes with its acknowledged updates")
    func resume() async throws {
        let directory = Fixture.temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualClock()
        let configuration = Fixture.configuration(directory: directory)
        var round: UInt64 = 0
        do {
            let service = try await Fixture.service(configuration, clock: clock)
            round = try await openRound(service, nodes: ["car-1", "car-2"])
            _ = try await service.submitUpdate(from: "car-1", round: round, body: Fixture.body(Fixture.delta(node: "car-1", round: round)))
        }  // dropped without any shutdown, as after kill -9
        let restarted = try await Fixture.service(configuration, clock: clock)
        let status = await restarted.status()
        #expect(status.currentVersion == 1)
        #expect(status.round?.number == round && status.round?.accepted == 1)
        await #expect(throws: CoordinatorError(.duplicateUpdate, "")) {
            _ = try await restarted.submitUpdate(from: "car-1", round: round, body: Fixture.body(Fixture.delta(node: "car-1", round: round)))
        }
        _ = await restarted.heartbeat(from: "car-2", .init(state: .uploading))
        let receipt = try await restarted.submitUpdate(from: "car-2", round: round, body: Fixture.body(Fixture.delta(node: "car-2", round: round)))
        #expect(receipt.acceptedUpdates == 2)
        await restarted.tick()
        let version = try restarted.version(2)
        #expect(version.manifest.contributors == ["car-1", "car-2"])
        #expect(try restarted.store.auditTrail().contains { $0.detail.contains("resumed on restart with 1 acknowledged") })
    }

    @Test("manual approval: a passing candidate waits, approval signs and publishes it")
    func manualApproval() async throws {
        let directory = Fixture.temporaryDirectory("approve")
        defer { try? FileManager.default.removeItem(at: directory) }
        let gate = RegressionGate(
            configuration: .init(requiresApproval: true), suite: Fixture.gate.suite, suiteName: Fixture.gate.suiteName,
            library: Fixture.gate.library, guardrail: Fixture.gate.guardrail
        )
        let service = try await Fixture.service(Fixture.configuration(directory: directory), gate: gate)
        let round = try await openRound(service, nodes: ["car-1", "car-2"])
        for node in ["car-1", "car-2"] {
            _ = try await service.submitUpdate(from: node, round: round, body: Fixture.body(Fixture.delta(node: node, round: round)))
        }
        await service.tick()
        #expect(try service.version(2).status == .awaitingApproval)
        #expect(await service.currentVersion == 1)
        #expect(try service.version(2).signature == nil)
        let approved = try await service.approve(version: 2, by: "ops")
        #expect(approved.status == .published)
        #expect(await service.currentVersion == 2)
        #expect(await service.currentModel().version == 2)
        #expect(try service.store.round(round)?.status == .published)
    }

    @Test("a version approved from outside (the approve command) is served after the next tick")
    func externalApproval() async throws {
        let directory = Fixture.temporaryDirectory("approve-outside")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try await Fixture.service(Fixture.configuration(directory: directory))
        // What `fleet-coordinator approve` does from another process: a new published version in the store.
        let other = ModelRegistry(store: service.store, blobs: service.blobs, signingKey: Fixture.signingKey)
        var policy = Fixture.basePolicy
        _ = policy.addExpert(seed: 3)
        _ = try other.record(policy, status: .awaitingApproval, parent: 1, round: nil, createdAt: "t", at: 0)
        _ = try other.approve(2)
        #expect(await service.currentModel().version == 1)
        await service.tick()
        #expect(await service.currentVersion == 2)
        let served = await service.currentModel()
        #expect(served.version == 2 && served.signatureBase64 != nil)
    }

    @Test("asynchronous mode cuts a version every bufferSize updates, from any node")
    func asynchronous() async throws {
        let directory = Fixture.temporaryDirectory("async")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rounds = RoundConfiguration(mode: .asynchronous(bufferSize: 2), deadline: 600)
        let service = try await Fixture.service(Fixture.configuration(directory: directory, rounds: rounds))
        _ = await service.heartbeat(from: "car-1", .init(state: .idle))
        await service.tick()
        let task = try #require(await service.task(for: "car-1"))
        for node in ["car-1", "car-2"] {
            _ = await service.heartbeat(from: node, .init(state: .uploading))
            _ = try await service.submitUpdate(from: node, round: task.round, body: Fixture.body(Fixture.delta(node: node, round: task.round)))
        }
        await service.tick()
        #expect(await service.currentVersion == 2)
        #expect(await service.status().round?.phase == "collecting")  // the next buffer is already open
    }
}
