import Foundation
import Testing
import Coordinator
import FleetWire
import PolicyNetwork

@Suite("screening a rejected round's updates")
struct ScreeningTests {
    /// An update that pushes every expert towards FASTER: the car speeds into whatever is ahead.
    static func reckless(node: String, round: UInt64, baseVersion: UInt64 = 1) -> PolicyDelta {
        let layout = ModelLayout(policy: Fixture.basePolicy)
        let actions = layout["experts.0.fc2.bias"]!.elementCount
        var values = [Float](repeating: 0, count: actions)
        values[3] = 60  // FASTER's logit
        return PolicyDelta(
            architecture: Fixture.basePolicy.architecture.hash, baseVersion: baseVersion, round: round, nodeID: node,
            tensors: (0..<layout.expertCount).map {
                TensorDelta(name: "experts.\($0).fc2.bias", shape: [actions], payload: .dense(values))
            },
            routingCounts: [UInt64](repeating: 10, count: layout.expertCount),
            metadata: DeltaMetadata(families: ["cut-in"], samples: 100, captures: 1))
    }

    func run(screening: Bool) async throws -> (version: PublishedVersion, current: UInt64) {
        let directory = Fixture.temporaryDirectory("screen")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = Fixture.configuration(
            directory: directory, gate: .init(falseRejectionRate: 1, screensUpdates: screening))
        configuration.rounds = RoundConfiguration(minParticipants: 3, quorumFraction: 1, minUpdates: 1, deadline: 60)
        let service = try await Fixture.service(configuration)
        let nodes = ["car-1", "car-2", "car-3"]
        for node in nodes { _ = await service.heartbeat(from: node, .init(state: .driving)) }
        await service.tick()
        let round = try #require(await service.task(for: "car-1")).round
        _ = try await service.submitUpdate(from: "car-1", round: round, body: Fixture.body(Fixture.delta(node: "car-1", round: round)))
        _ = try await service.submitUpdate(from: "car-2", round: round, body: Fixture.body(Self.reckless(node: "car-2", round: round)))
        _ = try await service.submitUpdate(from: "car-3", round: round, body: Fixture.body(Fixture.delta(node: "car-3", round: round, scale: 2e-4)))
        await service.tick()  // aggregates, gates (and screens)
        let newest = try #require(try service.versions().max { $0.number < $1.number })
        return (newest, await service.currentVersion)
    }

    @Test("one reckless update no longer sinks the round: the others are published without it, and it is named")
    func leavesOutTheBreakingUpdate() async throws {
        let (version, current) = try await run(screening: true)
        #expect(version.status == .published && current == version.number)
        #expect(version.manifest.contributors == ["car-1", "car-3"])
        #expect(version.manifest.aggregation?.updates == 2)
        let gate = try #require(version.manifest.gate)
        #expect(gate.verdict == "promoted" && gate.reasons.isEmpty)
        let leftOut = try #require(gate.leftOut)
        #expect(leftOut.map(\.node) == ["car-2"])
        #expect(leftOut.first?.reasons.isEmpty == false, "the update left out carries the gate's reasons against it")
        // The manifest round-trips with the new field, and its canonical bytes name it.
        #expect(String(decoding: version.manifestBytes, as: UTF8.self).contains("\"left_out\""))
    }

    @Test("without screening the same round is rejected whole")
    func wholeRoundRejectedWithoutScreening() async throws {
        let (version, current) = try await run(screening: false)
        #expect(version.status == .rejected && current == 1)
        #expect(version.manifest.contributors == ["car-1", "car-2", "car-3"])
        #expect(version.manifest.gate?.leftOut == nil)
    }
}
