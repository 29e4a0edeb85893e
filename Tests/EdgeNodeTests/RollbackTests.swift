import FleetWire
import Foundation
import Logging
import SecureTransport
import Synchronization
import Testing
@testable import EdgeNode

/// Nodes never go back: the version floor, refusals that back off, and freshness statements that expire.
@Suite("Rollback and freeze protection")
struct RollbackTests {
    typealias Machine = SyncStateMachine
    let fleet = TestFleet.shared

    // MARK: The floor, as the state machine decides it

    @Test("a verified download older than the floor, or not the version asked for, is refused; the floor never moves down")
    func refusesRollback() {
        var node = Machine(installedVersion: 5, floor: 5, backoff: Backoff(seed: 1))
        #expect(node.noTask(latestVersion: 20) == .fetchModel(version: 20))
        // Asked for 20, served a validly signed 1: a rollback.
        #expect(node.refusal(ofInstalling: 1, requested: 20) == .rollback(version: 1, installed: 5, floor: 5))
        // The installed version itself is no upgrade either.
        #expect(node.refusal(ofInstalling: 5, requested: 20) == .rollback(version: 5, installed: 5, floor: 5))
        // Newer, but not what was asked for: refused too (mix-and-match).
        #expect(node.refusal(ofInstalling: 21, requested: 20) == .notRequested(version: 21, requested: 20))
        #expect(node.refusal(ofInstalling: 20, requested: 20) == nil)
        guard case .sleep = node.modelRejected(now: 0) else {
            Issue.record("a refused model must back off")
            return
        }
        #expect(node.installedVersion == 5 && node.floor == 5)
        #expect(node.refusedModels == 1)
    }

    @Test("a node whose stored model is gone still never installs below its floor, and does not even ask for it")
    func floorWithoutStoredModel() {
        var node = Machine(installedVersion: 0, floor: 7, backoff: Backoff(seed: 1))
        #expect(node.floor == 7)
        #expect(node.noTask(latestVersion: 3) == .pollTask)
        #expect(node.refusal(ofInstalling: 3, requested: 3) == .rollback(version: 3, installed: 0, floor: 7))
        // The floor version itself may come back (its stored copy was lost), and anything newer.
        #expect(node.noTask(latestVersion: 7) == .fetchModel(version: 7))
        #expect(node.refusal(ofInstalling: 7, requested: 7) == nil)
        #expect(node.modelInstalled(version: 8) == .pollTask)
        #expect(node.floor == 8)
    }

    @Test("a task on a base older than the installed version fetches it to learn on, and never installs it")
    func olderTaskBaseIsLearnedOnOnly() {
        var node = Machine(installedVersion: 5, floor: 5, backoff: Backoff(seed: 1))
        let task = Machine.Task(round: 9, baseVersion: 4)
        #expect(node.taskReceived(task) == .fetchBase(task))
        #expect(node.baseFetched(version: 4) == .adapt(task))
        #expect(node.installedVersion == 5 && node.floor == 5)
    }

    /// The adversarial case: asked for v20, served v1 at once, forever. Without a
    /// refusal backoff the node asked again after every poll (613 times in 30 s).
    @Test("refusals back off: an instant stream of older models is asked for a bounded number of times in 30 simulated seconds",
          arguments: [UInt64(1), 2, 3, 42, 0xDEAD])
    func refusalsBackOff(seed: UInt64) {
        var node = Machine(
            installedVersion: 5, floor: 5, backoff: Backoff(base: 0.5, cap: 60, seed: seed),
            refusalBackoff: Backoff(base: 2, cap: 600, seed: seed ^ 7))
        var now = 0.0
        var attempts = 0
        var action = node.noTask(latestVersion: 20)
        var steps = 0
        while now < 30, steps < 10_000 {
            steps += 1
            switch action {
            case .fetchModel(let version):
                attempts += 1
                // The download (instant, validly signed version 1) is refused.
                #expect(node.refusal(ofInstalling: 1, requested: version) != nil)
                action = node.modelRejected(now: now)
            case .sleep(let until):
                #expect(until > now, "every refusal waits")
                now = until
                action = node.timerFired(now: now)
            case .pollTask:
                // The poll answers at once (no long poll): only the refusal backoff slows the node down.
                action = node.noTask(latestVersion: 20)
            default:
                Issue.record("unexpected \(action)")
                return
            }
        }
        // Waits of at least 1, 2, 4, 8, 16 s: the sixth attempt cannot come before 31 s.
        #expect(attempts >= 2, "the node does try again")
        #expect(attempts <= 5, "\(attempts) attempts in 30 s")
        #expect(node.installedVersion == 5 && node.floor == 5)
        #expect(node.refusedModels == attempts)
    }

    @Test("an installed version resets the refusal backoff; a poll that answers does not")
    func refusalBackoffResetsOnlyOnInstall() {
        var node = Machine(
            installedVersion: 5, floor: 5, backoff: Backoff(seed: 1), refusalBackoff: Backoff(base: 2, cap: 600, seed: 3))
        var waits: [Double] = []
        for _ in 0..<3 {
            _ = node.noTask(latestVersion: 20)
            guard case .sleep(let until) = node.modelRejected(now: 0) else { return }
            waits.append(until)
            _ = node.timerFired(now: until)
        }
        #expect(waits[2] >= 4, "the third refusal waits at least half of 2·2² s: \(waits)")
        _ = node.noTask(latestVersion: 20)
        _ = node.modelInstalled(version: 20)
        _ = node.noTask(latestVersion: 21)
        guard case .sleep(let until) = node.modelRejected(now: 0) else { return }
        #expect(until <= 2, "after an install the next refusal starts from the base again: \(until)")
    }

    // MARK: Freshness statements

    func statement(version: UInt64 = 5, issuedAt: Double, validity: Double = 3_600) -> FreshnessStatement {
        FreshnessStatement(version: version, contentHash: "sha256:" + String(repeating: "ab", count: 32), issuedAt: issuedAt,
                           expiresAt: issuedAt + validity)
    }

    /// A statement offered after one issued at 500 was accepted (floor 5, skew 300, validity 3,600 s).
    struct Offer: Sendable, CustomTestStringConvertible {
        var check: String
        var issuedAt: Double
        var version: UInt64
        var now: Double
        var testDescription: String { check }
    }

    @Test("a statement that expired, goes backwards, comes from the future or names a version below the floor is refused",
          arguments: [
            Offer(check: "expired", issuedAt: 1_000, version: 5, now: 10_000),
            Offer(check: "regressed", issuedAt: 400, version: 5, now: 1_000),
            Offer(check: "future", issuedAt: 2_000, version: 5, now: 1_000),
            Offer(check: "belowFloor", issuedAt: 900, version: 4, now: 1_000),
          ])
    func refusedStatements(_ offer: Offer) throws {
        var tracker = FreshnessTracker(startedAt: 0, clockSkew: 300, gracePeriod: 86_400)
        try tracker.accept(statement(issuedAt: 500), floor: 5, now: 600)
        let error = #expect(throws: AgentError(.freshnessRefused, "")) {
            try tracker.accept(statement(version: offer.version, issuedAt: offer.issuedAt), floor: 5, now: offer.now)
        }
        #expect(error?.context["check"] == offer.check, "\(error?.message ?? "")")
        #expect(tracker.newest?.issuedAt == 500, "a refused statement changes nothing")
    }

    @Test("the coordinator is stale once the newest statement expired past the skew, or when none came within the grace period")
    func staleness() throws {
        var tracker = FreshnessTracker(startedAt: 0, clockSkew: 300, gracePeriod: 86_400)
        #expect(!tracker.isStale(now: 86_000))
        #expect(tracker.isStale(now: 86_401), "no statement at all for longer than the grace period")
        try tracker.accept(statement(issuedAt: 86_000, validity: 3_600), floor: 0, now: 86_401)
        #expect(!tracker.isStale(now: 86_000 + 3_600 + 300))
        #expect(tracker.isStale(now: 86_000 + 3_600 + 301))
        #expect(tracker.currentVersion(now: 86_000 + 3_600 + 301) == nil)
        // The same statement again (a frozen coordinator) cannot make it fresh.
        #expect(throws: AgentError(.freshnessRefused, "")) {
            try tracker.accept(statement(issuedAt: 86_000, validity: 3_600), floor: 0, now: 86_000 + 3_600 + 301)
        }
        try tracker.accept(statement(issuedAt: 90_000), floor: 0, now: 90_001)
        #expect(!tracker.isStale(now: 90_001))
        #expect(tracker.currentVersion(now: 90_001) == 5)
    }

    @Test("only statements signed with the fleet's key count, and a signed manifest cannot pass for one")
    func statementSignatures() throws {
        let bytes = try statement(issuedAt: 100).canonicalBytes()
        let good = SignedFreshness(statementBytes: bytes, signature: try ModelSignature.sign(bytes, with: fleet.signingKey))
        #expect(try fleet.verifier.verify(good).issuedAt == 100)

        let forged = SignedFreshness(statementBytes: bytes, signature: try ModelSignature.sign(bytes, with: try PrivateKey(generating: .ed25519)))
        let signature = #expect(throws: AgentError(.freshnessRefused, "")) { _ = try fleet.verifier.verify(forged) }
        #expect(signature?.context["check"] == "signature")

        let model = try fleet.publish(version: 1)
        let manifest = SignedFreshness(statementBytes: model.manifestBytes, signature: model.signature)
        let confused = #expect(throws: AgentError(.freshnessRefused, "")) { _ = try fleet.verifier.verify(manifest) }
        #expect(confused?.context["check"] == "statement")
    }

    // MARK: Persistence

    @Test("the floor and the newest freshness statement are stored beside the model and survive a new store on the same directory")
    func persistence() throws {
        let directory = fleet.dataDirectory("floor").appendingPathComponent("models")
        let store = try ModelStore(directory: directory)
        #expect(try store.loadFloor() == 0)
        try store.save(try fleet.verifier.verify(try fleet.publish(version: 3).download))
        try store.save(try fleet.verifier.verify(try fleet.publish(version: 5, perturb: 0.01).download))
        let bytes = try statement(issuedAt: 100).canonicalBytes()
        let signed = SignedFreshness(statementBytes: bytes, signature: try ModelSignature.sign(bytes, with: fleet.signingKey))
        try store.saveFreshness(signed)

        let reopened = try ModelStore(directory: directory)
        #expect(try reopened.loadFloor() == 5)
        #expect(reopened.loadFreshness() == signed)
        #expect(try reopened.load(verifier: fleet.verifier)?.version == 5)
    }

    // MARK: The whole node

    static var quiet: Logger {
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        return logger
    }

    func agent(port: Int, data: URL, clock: WallClock? = nil) throws -> EdgeNodeAgent {
        var configuration = fleet.configuration(data: data)
        configuration.refusalBackoffBase = 0.2
        configuration.refusalBackoffCap = 1
        configuration.clockSkewAllowance = 60
        let connection = try fleet.connection(port: port)
        if let clock {
            return try EdgeNodeAgent(
                configuration: configuration, connection: connection, verifier: fleet.verifier, logger: Self.quiet,
                wallClock: { clock.now })
        }
        return try EdgeNodeAgent(configuration: configuration, connection: connection, verifier: fleet.verifier, logger: Self.quiet)
    }

    /// Runs `agent` while `body` runs, then stops it.
    func run(_ agent: EdgeNodeAgent, _ log: EventLog, _ body: @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.run() }
            group.addTask { await log.drain(agent.events) }
            try await body()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    @Test("served an older validly signed version when it asked for a newer one, the node refuses it; the floor holds across a restart",
          .timeLimit(.minutes(30)))
    func nodeRefusesRollback() async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 1))
        await state.publish(try fleet.publish(version: 5, perturb: 0.02))
        let data = fleet.dataDirectory("rollback")
        let models = data.appendingPathComponent("models")
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: data)
            try await run(agent, log) {
                await log.wait { $0.installed.contains(5) }
                // The coordinator now names version 20, but whatever is asked for, version 1 comes back.
                await state.setCurrentVersion(20)
                await state.setServedOverride(1)
                await log.wait { $0.refusals.count >= 2 }
                #expect(agent.live.version == 5)
            }
        }
        let events = await log.events
        #expect(events.installed == [5])
        #expect(events.refusals.allSatisfy { $0 == .modelRefused(version: 1, requested: 20, floor: 5) }, "\(events.refusals)")
        #expect(try ModelStore(directory: models).loadFloor() == 5)
        #expect(try ModelStore(directory: models).load(verifier: fleet.verifier)?.version == 5)

        // A restart on the same data directory whose stored model was lost: the floor alone still refuses version 1.
        for name in try FileManager.default.contentsOfDirectory(atPath: models.path) where name.hasPrefix("v") || name == "current" {
            try FileManager.default.removeItem(at: models.appendingPathComponent(name))
        }
        let restartedLog = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: data)
            #expect(agent.live.version == 0, "the bootstrap policy drives until a signed model arrives")
            try await run(agent, restartedLog) {
                await restartedLog.wait { $0.refusals.count >= 1 }
                #expect(agent.live.version == 0)
            }
        }
        let restarted = await restartedLog.events
        #expect(restarted.installed.isEmpty)
        #expect(restarted.refusals.first == .modelRefused(version: 1, requested: 20, floor: 5))
        #expect(try ModelStore(directory: models).loadFloor() == 5)
    }

    @Test("a frozen coordinator's expired statement, and an older one replayed, are refused and the node reports it stale",
          .timeLimit(.minutes(30)))
    func nodeReportsStaleCoordinator() async throws {
        let state = FakeState()
        let model = try fleet.publish(version: 1)
        await state.publish(model)
        let start = 1_800_000_000.0
        let clock = WallClock(start)
        @Sendable func signed(issuedAt: Double, validity: Double) throws -> SignedFreshness {
            let hash = ModelVerifier.contentHash(of: model.checkpoint)
            let bytes = try FreshnessStatement(version: 1, contentHash: hash, issuedAt: issuedAt, expiresAt: issuedAt + validity).canonicalBytes()
            return SignedFreshness(statementBytes: bytes, signature: try ModelSignature.sign(bytes, with: fleet.signingKey))
        }
        await state.setFreshness(try signed(issuedAt: start, validity: 600))
        let data = fleet.dataDirectory("freeze")
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: data, clock: clock)
            try await run(agent, log) {
                await log.wait { $0.installed.contains(1) }
                // Simulated time passes beyond the statement's expiry and the skew allowance; the coordinator keeps
                // sending the same statement (frozen).
                clock.set(start + 600 + 61)
                await log.wait { $0.contains { if case .coordinatorStale = $0 { true } else { false } } }
                await log.wait { $0.freshnessRefusals.contains { $0.contains("expired") } }
                // A replay of an older statement, even one not yet expired, goes backwards.
                await state.setFreshness(try signed(issuedAt: start - 10, validity: 100_000))
                await log.wait { $0.freshnessRefusals.contains { $0.contains("before the statement already seen") } }
                // A fresh statement ends the alarm.
                await state.setFreshness(try signed(issuedAt: start + 700, validity: 600))
                await log.wait { $0.contains(.coordinatorFresh(version: 1)) }
            }
        }
        let events = await log.events
        #expect(events.installed == [1], "freshness never makes the node install anything")
        // The statement accepted last is stored, so a replay of an older one is refused after a restart too.
        let stored = try #require(ModelStore(directory: data.appendingPathComponent("models")).loadFreshness())
        #expect(try fleet.verifier.verify(stored).issuedAt == start + 700)
    }
}

extension RollbackTests {
    @Test("a version whose checkpoint is not the one the freshness statement names is refused (mix-and-match); the right one is installed",
          .timeLimit(.minutes(30)))
    func nodeRefusesMixAndMatch() async throws {
        let state = FakeState()
        let model = try fleet.publish(version: 1)
        await state.publish(model)
        let clock = WallClock(1_800_000_000)
        @Sendable func signed(hash: String, issuedAt: Double) throws -> SignedFreshness {
            let bytes = try FreshnessStatement(version: 1, contentHash: hash, issuedAt: issuedAt, expiresAt: issuedAt + 3_600).canonicalBytes()
            return SignedFreshness(statementBytes: bytes, signature: try ModelSignature.sign(bytes, with: fleet.signingKey))
        }
        // Validly signed, but naming other weights for version 1.
        await state.setFreshness(try signed(hash: "sha256:" + String(repeating: "00", count: 32), issuedAt: clock.now))
        let log = EventLog()
        try await FakeCoordinator.serve(state) { port in
            let agent = try self.agent(port: port, data: fleet.dataDirectory("mix"), clock: clock)
            try await run(agent, log) {
                await log.wait { $0.refusals.count >= 1 }
                #expect(agent.live.version == 0, "the bootstrap policy still drives")
                await state.setFreshness(try signed(hash: ModelVerifier.contentHash(of: model.checkpoint), issuedAt: clock.now + 1))
                await log.wait { $0.installed.contains(1) }
            }
        }
        let events = await log.events
        #expect(events.refusals.first == .modelRefused(version: 1, requested: 1, floor: 0))
        #expect(events.installed == [1])
    }
}

/// A settable wall clock (seconds since 1970) for the agent's freshness checks.
final class WallClock: Sendable {
    private let time: Mutex<Double>
    init(_ start: Double) { time = Mutex(start) }
    var now: Double { time.withLock { $0 } }
    func set(_ value: Double) { time.withLock { $0 = value } }
}

extension Array where Element == AgentEvent {
    var refusals: [AgentEvent] { filter { if case .modelRefused = $0 { true } else { false } } }
    var freshnessRefusals: [String] { compactMap { if case .freshnessRefused(let message) = $0 { message } else { nil } } }
}
