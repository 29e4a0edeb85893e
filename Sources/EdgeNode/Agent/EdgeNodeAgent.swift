import DrivingSimulator
import CoreMetrics
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
public import Logging
public import ServiceLifecycle

/// One edge node: drives, captures, learns and syncs with the coordinator.
///
/// Two loops run side by side under one task group. The drive loop observes
/// (the simulated vehicle or a real vehicle's feed), decides with the live
/// policy and the guardrail, and writes every trigger's capture into the
/// spool — whether or not the coordinator is reachable. The sync loop
/// follows ``SyncStateMachine``: it long-polls for tasks, pulls and verifies
/// new versions and swaps them into the live policy without stopping the
/// drive, adapts on the spool with heartbeats, uploads, and backs off with
/// jitter on failures.
///
/// Graceful shutdown (SIGINT/SIGTERM through swift-service-lifecycle, or
/// cancelling ``run()``) stops both loops between two steps; a long poll is
/// cut short and an adaptation in progress is abandoned. The spool
/// keeps every capture whose lesson the coordinator has not acknowledged:
/// records are removed only after an accepted upload, and every record is
/// written whole or not at all, so a shutdown — even a crash — loses nothing
/// already captured.
public final class EdgeNodeAgent: Service, Sendable {
    public let configuration: EdgeNodeConfiguration
    /// The policy driving now.
    public let live: LivePolicy
    /// The captures waiting to be learned from.
    public let spool: SharedSpool
    /// What the agent does, as it happens (one consumer).
    public let events: AsyncStream<AgentEvent>
    let context: AgentContext

    /// Builds an agent: opens the data directory, loads the simulator content
    /// and the last verified model (or the bootstrap policy).
    ///
    /// - Parameters:
    ///   - configuration: the node's settings (validated here).
    ///   - connection: how to reach the coordinator.
    ///   - verifier: checks every model with the fleet's signing key.
    ///   - logger: where the agent reports.
    ///   - wallClock: seconds since 1970, against which the coordinator's freshness statements are checked (default: the system clock).
    /// - Throws: ``AgentError`` naming the bad setting, file or directory.
    public init(
        configuration: EdgeNodeConfiguration, connection: any CoordinatorConnection, verifier: ModelVerifier,
        logger: Logger = Logger(label: "fleet.node"),
        wallClock: (@Sendable () -> Double)? = nil
    ) throws(AgentError) {
        try configuration.validate()
        self.configuration = configuration
        let data = configuration.dataDirectory
        let spool: CaptureSpool<Capture>
        do {
            spool = try CaptureSpool<Capture>(directory: data.appendingPathComponent("spool"), bounds: configuration.spoolBounds)
        } catch {
            throw AgentError(.storage, error.message, context: ["field": "dataDirectory"])
        }
        let store = try ModelStore(directory: data.appendingPathComponent("models"))
        let content = SimulatorContent(root: configuration.simulatorContent)
        let library: ScenarioLibrary
        do { library = try ScenarioLibrary.load(directory: content.scenarios) } catch {
            throw AgentError(.simulatorContent, "cannot load the scenarios in \(content.scenarios.path): \(error)", context: ["field": "simulator"])
        }
        var guardrail: Guardrail?
        if configuration.guardrail {
            do { guardrail = try Guardrail.load(contentsOf: content.guardrailRules) } catch {
                throw AgentError(.simulatorContent, "cannot load the guardrail rules: \(error)", context: ["field": "simulator"])
            }
        }
        var vehicle: SimulatedVehicle?
        if case .simulated(let name) = configuration.source {
            let url = content.regions.appendingPathComponent(name + ".json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                let known = ((try? FileManager.default.contentsOfDirectory(atPath: content.regions.path)) ?? [])
                    .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
                throw AgentError(.invalidConfiguration, "region: no region '\(name)' (known: \(known.joined(separator: ", ")))",
                                 context: ["field": "region"])
            }
            let region: Region
            do { region = try Region.load(contentsOf: url, library: library) } catch {
                throw AgentError(.simulatorContent, "cannot load region '\(name)': \(error)", context: ["field": "region"])
            }
            vehicle = SimulatedVehicle(
                region: region, library: library, guardrail: guardrail, shadowTeacher: configuration.shadowTeacher,
                seed: configuration.seed, firstEpisode: DriveProgress(dataDirectory: data).load())
        }

        let live = LivePolicy()
        do {
            if let model = try store.load(verifier: verifier) {
                live.install(version: model.version, policy: model.policy)
                logger.info("resuming with the stored model", metadata: ["version": "\(model.version)"])
            }
        } catch {
            logger.error("the stored model does not verify; it will not drive", metadata: ["error": "\(error.message)"])
        }
        // The floor: never install below the highest version ever installed, across restarts.
        var floor = live.version ?? 0
        do throws(AgentError) { floor = max(floor, try store.loadFloor()) } catch {
            logger.error("the stored version floor is unreadable; using the stored model's version", metadata: ["error": "\(error.message)"])
        }
        var freshness: FreshnessStatement?
        if let signed = store.loadFreshness() {
            do throws(AgentError) { freshness = try verifier.verify(signed) } catch {
                logger.warning("the stored freshness statement does not verify; ignoring it", metadata: ["error": "\(error.message)"])
            }
        }
        if live.snapshot == nil && configuration.bootstrapFromBasePolicy {
            if let policy = try? BasePolicy.load(from: content) {
                live.install(version: 0, policy: policy)
                logger.info("driving with the bootstrap base policy until a signed model arrives")
            }
        }

        let (events, sink) = AsyncStream<AgentEvent>.makeStream(bufferingPolicy: .bufferingNewest(4_096))
        self.live = live
        self.spool = SharedSpool(spool)
        self.events = events
        context = AgentContext(
            configuration: configuration, live: live, spool: self.spool, connection: connection, verifier: verifier, store: store,
            library: library, guardrail: guardrail, vehicle: vehicle, logger: logger, metrics: AgentMetrics(), events: sink,
            floor: floor, freshness: freshness, wallClock: wallClock ?? { Date().timeIntervalSince1970 })
        context.metrics.versionFloor.record(Int64(clamping: floor))
        context.metrics.coordinatorStale.record(0)
        context.metrics.spoolCaptures.record(self.spool.count)
        if let version = live.version { context.metrics.modelVersion.record(Int64(version)) }
    }

    /// Runs both loops until graceful shutdown or cancellation.
    public func run() async throws {
        let context = self.context
        context.logger.notice("edge node starting", metadata: [
            "node": "\(configuration.nodeID)", "model": "\(live.version.map(String.init) ?? "none")",
            "spool": "\(spool.count)",
        ])
        defer { context.events.finish() }
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await DriveLoop(agent: context).run() }
                    group.addTask {
                        var sync = SyncLoop(agent: context)
                        await sync.run()
                    }
                    try await group.waitForAll()
                }
            }
        } catch is CancellationError {
            // Shutdown: nothing to report.
        }
        await context.connection.close()
        context.logger.notice("edge node stopped", metadata: ["spool": "\(spool.count)"])
    }
}
