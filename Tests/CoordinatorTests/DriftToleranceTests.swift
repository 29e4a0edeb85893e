import Foundation
import Testing
import Coordinator
import FleetWire
import PolicyNetwork

@Suite("the gate's drift tolerance in the coordinator")
struct DriftToleranceTests {
    /// A round of one update from car-1, closed and gated; the newest version afterwards.
    func round(_ service: CoordinatorService, _ delta: (UInt64) -> PolicyDelta) async throws -> PublishedVersion {
        _ = await service.heartbeat(from: "car-1", .init(state: .driving))
        await service.tick()
        let round = try #require(await service.task(for: "car-1")).round
        _ = try await service.submitUpdate(from: "car-1", round: round, body: Fixture.body(delta(round)))
        await service.tick()  // the quorum of one is met: aggregates and gates
        return try #require(try service.versions().max { $0.number < $1.number })
    }

    @Test("after a restart the gate still holds every family to the fleet's first version")
    func holdsToTheFirstVersionAcrossRestarts() async throws {
        let directory = Fixture.temporaryDirectory("drift")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rules = RegressionGate.Configuration(falseRejectionRate: 1, interventionTolerance: 100, screensUpdates: false, boundsDrift: true)
        var configuration = Fixture.configuration(directory: directory, gate: rules)
        configuration.rounds = RoundConfiguration(minParticipants: 1, quorumFraction: 1, minUpdates: 1, deadline: 60)
        // Three episodes a family (the base itself crashes in fog-001, so two would leave fog one
        // episode to lose): with four tests each at ¼, two losses and no gains (p = ¼) are a regression.
        let gate = try RegressionGate.make(
            content: Fixture.content, configuration: rules,
            selection: .init(episodesPerFamily: 3, families: Fixture.gateSelection.families))
        do {
            let service = try await Fixture.service(configuration, gate: gate)
            let first = try await round(service) { Fixture.delta(node: "car-1", round: $0) }
            #expect(first.status == .published && first.number == 2)
        }
        // Restarted: the first version's report is no longer at hand and is made again from the registry.
        let restarted = try await Fixture.service(configuration, gate: gate)
        let reckless = try await round(restarted) { ScreeningTests.reckless(node: "car-1", round: $0, baseVersion: 2) }
        #expect(reckless.status == .rejected)
        #expect(await restarted.currentVersion == 2)
        let reasons = reckless.manifest.gate?.reasons ?? []
        #expect(!reasons.isEmpty && reasons.contains { $0.contains("against the fleet's first version") }, "\(reasons)")
    }
}
