import DrivingSimulator
import EdgeLearning
import FleetWire
import Foundation
import Logging
import PolicyNetwork
import SecureTransport
import ServiceLifecycle
import Testing
@testable import EdgeNode

/// The whole node against the coordinator double: offline capture, sync, verification, hot swap, shutdown.
///
/// The time limit guards against a hang, not slowness: under the full suite on two cores a test that takes
/// seconds alone waits minutes for the cooperative thread pool, so the limit sits above a whole test run.
@Suite("Edge node agent", .serialized, .timeLimit(.minutes(30)))
struct AgentTests {
    let fleet = TestFleet.shared

    static var quiet: Logger {
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        return logger
    }

    /// A port nothing listens on now (the double bound it and let it go).
    static func freePort(_ state: FakeState) async throws -> Int {
        try await FakeCoordinator.serve(state) { $0 }
    }

    func agent(port: Int, data: URL, source: EdgeNodeConfiguration.Source = .simulated(region: "highway"),
               configure: (inout EdgeNodeConfiguration) -> Void = { _ in }) throws -> EdgeNodeAgent {
        var configuration = fleet.configuration(data: data, source: source)
        configure(&configuration)
        return try EdgeNodeAgent(
            configuration: configuration, connection: try fleet.connection(port: port), verifier: fleet.verifier, logger: Self.quiet)
    }

    @Test("while the coordinator is down the node keeps capturing; when it is back the node pulls the signed model, adapts and uploads")
    func offlineThenUpload() async throws {
        let state = FakeState()
        let port = try await Self.freePort(state)
        let data = fleet.dataDirectory("offline")
        let agent = try agent(port: port, data: data)
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.run() }
            group.addTask { await log.drain(agent.events) }

            await log.wait { $0.captured >= 3 && $0.transportFailures >= 2 }
            #expect(agent.spool.count >= 3)
            #expect(agent.live.version == 0)  // still the bootstrap policy

            await state.publish(try fleet.publish(version: 1))
            await state.setTask(TaskAssignment(round: 1, baseVersion: 1, deadlineSeconds: 60))
            try await FakeCoordinator.serve(state, port: port) { _ in
                await log.wait { !$0.uploadsAccepted.isEmpty }
            }
            group.cancelAll()
            try await group.waitForAll()  // surfaces an agent that failed instead of stopping
        }
        let events = await log.events
        #expect(events.installed == [1])
        #expect(agent.live.version == 1)
        let uploads = await state.uploads
        #expect(uploads.count == 1)
        let delta = try #require(uploads.first)
        #expect(delta.nodeID == "car-7")
        #expect(delta.round == 1 && delta.baseVersion == 1)
        #expect(delta.architecture == fleet.basePolicy.architecture.hash)
        guard case .uploadAccepted(_, let consumed) = events.uploadsAccepted[0] else { return }
        #expect(delta.metadata.captures == consumed)
        #expect(await state.heartbeats.contains { $0.state == .adapting })
        // The model it verified is on disk for the next start.
        #expect(try ModelStore(directory: data.appendingPathComponent("models")).load(verifier: fleet.verifier)?.version == 1)
    }

    @Test("a refused update drops the delta; its captures stay after a 409 and are discarded after a 400", arguments: [409, 400])
    func refusedUpload(_ status: Int) async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 1))
        await state.setUploadStatus(status)
        let data = fleet.dataDirectory("refused")
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: data)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.installed.contains(1) && $0.captured >= 2 }
                await state.setTask(TaskAssignment(round: 1, baseVersion: 1, deadlineSeconds: 60))
                await log.wait { $0.contains { if case .uploadRefused = $0 { true } else { false } } }
                group.cancelAll()
                try await group.waitForAll()  // surfaces an agent that failed instead of stopping
            }
        }
        let events = await log.events
        #expect(events.contains(.uploadRefused(round: 1, status: status, code: "forced")))
        #expect(events.uploadsAccepted.isEmpty)
        // The lesson learned from the two oldest captures (sequences 1 and 2).
        let oldest = data.appendingPathComponent("spool/00000000000000000001.capture").path
        #expect(FileManager.default.fileExists(atPath: oldest) == (status == 409))
    }

    @Test("a task on an older base fetches exactly that version and adapts on it, without ever driving an older version again")
    func olderBase() async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 1))
        await state.publish(try fleet.publish(version: 2, perturb: 0.01))
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: fleet.dataDirectory("older"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.captured >= 2 }
                await state.setTask(TaskAssignment(round: 3, baseVersion: 1, deadlineSeconds: 60))
                await log.wait { !$0.uploadsAccepted.isEmpty }
                group.cancelAll()
                try await group.waitForAll()  // surfaces an agent that failed instead of stopping
            }
        }
        let events = await log.events
        // Version 2 may or may not be installed before the task comes; either way the node never goes back.
        #expect(zip(events.installed, events.installed.dropFirst()).allSatisfy { $0 < $1 }, "installed \(events.installed)")
        #expect(events.installed.last == 1 || events.contains(.trainingBaseFetched(version: 1)), "\(events)")
        #expect(await state.versionRequests.contains(1), "exactly version 1 was asked for")
        #expect(await state.uploads.first?.baseVersion == 1)
    }

    @Test("with nothing to learn, a round offered again is not asked for in a tight loop")
    func nothingToLearn() async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 1))
        await state.setTask(TaskAssignment(round: 1, baseVersion: 1, deadlineSeconds: 60))
        let directory = fleet.dataDirectory("idle")
        let feed = directory.appendingPathComponent("empty.jsonl")
        try Data().write(to: feed)  // a feed with no frames: no captures, ever
        let log = EventLog()
        let clock = ContinuousClock()
        let start = clock.now
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: directory, source: .jsonLines(path: feed.path))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.count { $0 == .adaptationFinished(round: 1, delta: false) } >= 1 }
                await log.wait { $0.count { if case .heartbeatAcknowledged = $0 { true } else { false } } >= 3 }
                group.cancelAll()
                try await group.waitForAll()  // surfaces an agent that failed instead of stopping
            }
        }
        let events = await log.events
        let offers = events.count { if case .taskReceived = $0 { true } else { false } }
        #expect(offers == 1, "the same round was taken up \(offers) times in \(clock.now - start)")
        #expect(await state.uploads.isEmpty)
    }

    @Test("a tampered model is never installed; the node keeps driving with what it had")
    func tamperedModelRejected() async throws {
        let state = FakeState()
        var forged = try fleet.publish(version: 1)
        forged.signature = try ModelSignature.sign(forged.manifestBytes, with: try PrivateKey(generating: .ed25519))
        await state.publish(forged)
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: fleet.dataDirectory("tampered"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.rejectedModels >= 1 }
                let episodes = await log.events.episodes
                await log.wait { $0.episodes >= episodes + 2 }  // the drive goes on
                #expect(agent.live.version == 0)
                group.cancelAll()
                try await group.waitForAll()  // surfaces an agent that failed instead of stopping
            }
        }
        #expect(await log.events.installed.isEmpty)
    }

    @Test("a new version is swapped in while the node drives")
    func hotSwapWhileDriving() async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 1))
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: fleet.dataDirectory("swap"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.installed.contains(1) }
                await state.publish(try fleet.publish(version: 2, perturb: 0.01))
                await log.wait { $0.installed.contains(2) }
                let episodes = await log.events.episodes
                await log.wait { $0.episodes >= episodes + 2 }
                #expect(agent.live.version == 2)
                group.cancelAll()
                try await group.waitForAll()  // surfaces an agent that failed instead of stopping
            }
        }
        #expect(await log.events.installed == [1, 2])
    }

    @Test("graceful shutdown leaves every capture in the spool, readable by the next start")
    func gracefulShutdownKeepsSpool() async throws {
        let state = FakeState()
        let port = try await Self.freePort(state)
        let data = fleet.dataDirectory("shutdown")
        let agent = try agent(port: port, data: data)
        let log = EventLog()
        let services = ServiceGroup(configuration: .init(services: [agent], logger: Self.quiet))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            group.addTask { await log.drain(agent.events) }
            await log.wait { $0.captured >= 4 }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        let captured = await log.events.captured
        let spool = try CaptureSpool<Capture>(directory: data.appendingPathComponent("spool"))
        let (records, skipped) = spool.readAll()
        #expect(skipped.isEmpty)
        #expect(records.count == captured)
        let restarted = try self.agent(port: port, data: data)
        #expect(restarted.spool.count == captured)
        // The drive goes on where it stopped instead of replaying the same episodes.
        let driven = await log.events.episodes
        #expect(restarted.context.vehicle?.episodeIndex == driven)
    }

    @Test("graceful shutdown does not wait out a long poll")
    func shutdownDuringLongPoll() async throws {
        let state = FakeState()
        await state.setPollDelay(30)  // the coordinator holds every poll for 30 s
        let log = EventLog()
        let elapsed = try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: fleet.dataDirectory("longpoll")) { $0.pollWaitSeconds = 30 }
            let services = ServiceGroup(configuration: .init(services: [agent], logger: Self.quiet))
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await services.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.contains { if case .heartbeatAcknowledged = $0 { true } else { false } } && $0.episodes >= 1 }
                let clock = ContinuousClock()
                let start = clock.now
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return clock.now - start
            }
        }
        #expect(elapsed < .seconds(5), "shutdown took \(elapsed)")
    }

    @Test("graceful shutdown abandons an adaptation in progress instead of waiting for it")
    func shutdownDuringAdaptation() async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 1))
        let log = EventLog()
        let timing = try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: fleet.dataDirectory("abandon")) {
                $0.learner.synthesis.count = 1_000  // a lesson of many minutes in a debug build
            }
            let services = ServiceGroup(configuration: .init(services: [agent], logger: Self.quiet))
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await services.run() }
                group.addTask { await log.drain(agent.events) }
                await log.wait { $0.installed.contains(1) && $0.captured >= 2 }
                await state.setTask(TaskAssignment(round: 1, baseVersion: 1, deadlineSeconds: 60))
                await log.wait { $0.contains { if case .adaptationStarted = $0 { true } else { false } } }
                let clock = ContinuousClock()
                let start = clock.now
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return (clock.now - start, agent.spool.count)
            }
        }
        // Waiting for the lesson would take many minutes; abandoning it takes a moment, and the
        // bound leaves room for a machine busy with other work.
        #expect(timing.0 < .seconds(120), "shutdown took \(timing.0)")
        #expect(timing.1 >= 2)  // nothing was consumed
        #expect(await state.uploads.isEmpty)
    }

    @Test("a JSON-lines feed drives the node: good frames get decisions, a bad line is rejected, a trigger with a scene is captured")
    func jsonLinesFeed() async throws {
        let library = try ScenarioLibrary.load(directory: SimulatorContent(root: fleet.simulator).scenarios)
        let (_, world) = try library.build(ScenarioBuilder.episode(library.scenarios[0], index: 0))
        let scene = String(decoding: try JSONEncoder().encode(world), as: UTF8.self)
        func frame(_ time: Double, ttc: Double = 10, withScene: Bool = false) -> String {
            ObservationFeedTests.line(time: time, observation: ObservationFeedTests.observation(ttc: ttc),
                                      extra: withScene ? ", \"scene\": \(scene)" : "")
        }
        let lines = [
            frame(0, withScene: true), "{\"time\": 0.5, \"observation\": \"oops\"}", frame(1, withScene: true),
            frame(2, withScene: true), frame(3, ttc: 0.7, withScene: true), "", frame(4),
        ]
        let directory = fleet.dataDirectory("feed")
        let feed = directory.appendingPathComponent("frames.jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: feed)
        let decisions = directory.appendingPathComponent("decisions.jsonl")

        let state = FakeState()
        let port = try await Self.freePort(state)
        let agent = try agent(port: port, data: directory, source: .jsonLines(path: feed.path)) {
            $0.decisionsOutput = decisions.path
        }
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.run() }
            group.addTask { await log.drain(agent.events) }
            await log.wait { $0.contains(.feedEnded) }
            group.cancelAll()
            try await group.waitForAll()  // surfaces an agent that failed instead of stopping
        }
        let events = await log.events
        #expect(events.contains { if case .observationRejected(2, let message) = $0 { message.contains("'observation'") } else { false } })
        #expect(events.count { if case .frameProcessed = $0 { true } else { false } } == 5)
        // The closing lead at t = 3 s fires the TTC trigger (and the guardrail's brake, if the policy did not brake itself).
        let kinds = agent.spool.snapshot.readAll().records.map(\.record.trigger.kind)
        #expect(kinds.contains(.timeToCollision))
        #expect(Set(kinds).isSubset(of: [.timeToCollision, .guardrailOverride]))
        #expect(kinds.count == events.captured)
        let written = String(decoding: try Data(contentsOf: decisions), as: UTF8.self).split(separator: "\n")
        #expect(written.count == 5)
    }
}
