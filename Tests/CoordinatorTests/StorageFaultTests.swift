import Foundation
import Testing
import Aggregation
import Coordinator
import FleetWire

/// Stored state a coordinator can no longer use must cost what it holds, not the coordinator.
@Suite("storage faults degrade, not stop")
struct StorageFaultTests {
    func openRound(_ service: CoordinatorService, nodes: [String]) async throws -> UInt64 {
        for node in nodes { _ = await service.heartbeat(from: node, .init(state: .driving)) }
        await service.tick()
        return try #require(await service.task(for: nodes[0])).round
    }

    @Test("an acknowledged update that can no longer be folded is quarantined on restart, and the round still publishes")
    func quarantine() async throws {
        let directory = Fixture.temporaryDirectory("quarantine")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualClock()
        let configuration = Fixture.configuration(directory: directory)
        var round: UInt64 = 0
        var poisonHash = ""
        do {
            let service = try await Fixture.service(configuration, clock: clock)
            round = try await openRound(service, nodes: ["car-1", "car-2", "car-3"])
            // Refused before anything is stored.
            let poison = Fixture.body(Fixture.poison(node: "car-1", round: round))
            await #expect(throws: CoordinatorError(.invalidUpdate, "")) {
                _ = try await service.submitUpdate(from: "car-1", round: round, body: poison)
            }
            #expect(try service.store.acceptedUpdates(round: round).isEmpty)
            #expect(!service.blobs.contains(BlobStore.hash(of: poison)))
            // As an older coordinator that acknowledged it would have left it.
            poisonHash = try service.blobs.put(poison)
            try service.store.recordAcceptedUpdate(round: round, node: "car-1", blobHash: poisonHash, at: clock.now())
            _ = try await service.submitUpdate(from: "car-2", round: round, body: Fixture.body(Fixture.delta(node: "car-2", round: round)))
        }  // dropped without shutdown, as after kill -9
        let restarted = try await Fixture.service(configuration, clock: clock)
        #expect(await restarted.status().round?.accepted == 1)
        let trail = try restarted.store.auditTrail()
        #expect(trail.contains { $0.subject == "car-1" && $0.detail.contains("quarantined") && $0.detail.contains("samples to expert 0") })
        #expect(!restarted.blobs.contains(poisonHash))
        let kept = restarted.blobs.directory.appendingPathComponent("quarantine").appendingPathComponent(String(poisonHash.dropFirst(7)))
        #expect(FileManager.default.fileExists(atPath: kept.path))
        // car-1 may send a real update now; the round closes and publishes.
        for node in ["car-1", "car-3"] {
            _ = await restarted.heartbeat(from: node, .init(state: .uploading))
            _ = try await restarted.submitUpdate(from: node, round: round, body: Fixture.body(Fixture.delta(node: node, round: round)))
        }
        await restarted.tick()
        #expect(await restarted.currentVersion == 2)
        #expect(try restarted.version(2).manifest.contributors.sorted() == ["car-1", "car-2", "car-3"])
    }

    @Test("a damaged current checkpoint makes the coordinator serve the newest intact version and say so")
    func damagedCheckpoint() async throws {
        let directory = Fixture.temporaryDirectory("damaged")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualClock()
        var configuration = Fixture.configuration(directory: directory)
        configuration.downlink = .init(fraction: 1, quantize: true)
        var damagedHash = ""
        do {
            let service = try await Fixture.service(configuration, clock: clock)
            let round = try await openRound(service, nodes: ["car-1", "car-2"])
            for node in ["car-1", "car-2"] {
                _ = try await service.submitUpdate(from: node, round: round, body: Fixture.body(Fixture.delta(node: node, round: round)))
            }
            await service.tick()
            #expect(await service.currentVersion == 2)
            damagedHash = try service.version(2).manifest.contentHash
        }
        // One flipped bit in version 2's checkpoint.
        let file = directory.appendingPathComponent("blobs").appendingPathComponent(String(damagedHash.dropFirst(7)))
        var bytes = [UInt8](try Data(contentsOf: file))
        bytes[bytes.count / 2] ^= 0x10
        try Data(bytes).write(to: file)

        let restarted = try await Fixture.service(configuration, clock: clock)
        #expect(await restarted.currentVersion == 1)
        #expect(await restarted.currentModel().version == 1)
        let warning = try #require(await restarted.status().storageWarning)
        #expect(warning.contains("version 2") && warning.contains("serving version 1"), "\(warning)")
        #expect(try restarted.store.auditTrail().contains { $0.detail.contains("could not be loaded") })
        // The fleet goes on from version 1: the next version is 3, made from 1.
        let round = try await openRound(restarted, nodes: ["car-1", "car-2"])
        for node in ["car-1", "car-2"] {
            _ = try await restarted.submitUpdate(from: node, round: round, body: Fixture.body(Fixture.delta(node: node, round: round)))
        }
        await restarted.tick()
        let trailAfter = try restarted.store.auditTrail().prefix(6).map { "\($0.kind) \($0.subject): \($0.detail)" }
        #expect(await restarted.currentVersion == 3, "\(trailAfter)")
        #expect(try restarted.version(3).manifest.parent == 1)
    }
}
