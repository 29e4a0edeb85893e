import Coordinator
import DrivingSimulator
import Foundation
import Synchronization

/// A fleet of real processes on this machine: one `fleet-coordinator serve`
/// and N `fleet-node` processes talking mutual TLS on 127.0.0.1, run until R
/// rounds have closed, then stopped.
///
/// Why beside the in-process ``FleetSimulation``: that one runs in lock step
/// for reproducible numbers; this one runs the shipped executables with
/// their own clocks, flags, files and signals, as a fleet would. The keys
/// come from `fleet-coordinator certs`, the coordinator picks its port and
/// prints it, and progress is read from its HTTPS API with a client
/// certificate of the fleet's own. Every process is stopped — SIGTERM, then
/// SIGKILL after a grace period — however the run ends: success, failure or
/// cancellation (`fleet-sim` cancels the run on SIGINT and SIGTERM).
///
/// Everything goes under `<output>/processes/`: certificates and keys,
/// `coordinator-data/`, one `<node>-data/` per node, and a log per process.
public struct ProcessFleet: Sendable {
    public let configuration: ProcessFleetConfiguration
    public let executables: FleetExecutables

    /// The client certificate the run reads the coordinator's API with (never a node: it is not invited to rounds).
    static let observer = "fleet-sim-observer"
    /// The line `fleet-coordinator serve` prints on standard output once it listens.
    static let listeningPrefix = "fleet-coordinator listening on "
    /// How long the coordinator may take to load the gold suite and listen.
    static let startTimeout: Duration = .seconds(120)

    public init(configuration: ProcessFleetConfiguration, executables: FleetExecutables) throws(SimulationError) {
        try configuration.validate()
        self.configuration = configuration
        self.executables = executables
    }

    /// Runs the fleet until ``ProcessFleetConfiguration/rounds`` rounds have closed; `onRound`
    /// gets each round as it is seen closing. Every process has ended when this returns or throws.
    public func run(onRound: @escaping @Sendable (ProcessRoundSummary) -> Void = { _ in }) async throws -> ProcessFleetSummary {
        let started = ContinuousClock.now
        let placement = try placeNodes()
        let directory = try prepareDirectory()
        let credentials = try await FleetCredentials.make(
            in: directory, clients: placement.map(\.id) + [Self.observer], coordinator: executables.coordinator)

        let processes = ChildProcesses()
        let outcome: Result<(rounds: [ProcessRoundSummary], finalVersion: UInt64), any Error>
        do {
            outcome = .success(try await supervise(processes, placement: placement, credentials: credentials, started: started, onRound: onRound))
        } catch {
            outcome = .failure(error)
        }
        let exits = await processes.stopAll(grace: configuration.stopGrace)
        let (rounds, finalVersion) = try outcome.get()
        return ProcessFleetSummary(
            nodes: placement.count, regions: Dictionary(grouping: placement, by: \.region).mapValues { $0.map(\.id) },
            seed: configuration.seed, rounds: rounds, finalVersion: finalVersion, exits: exits,
            directory: directory.path, seconds: Self.seconds(since: started))
    }

    // MARK: Steps

    /// Node ids and regions: the regions in turn, named as the in-process simulation names them.
    func placeNodes() throws(SimulationError) -> [(id: String, region: String)] {
        let content = SimulatorContent(root: configuration.simulatorContent)
        let known: [String]
        do {
            let library = try ScenarioLibrary.load(directory: content.scenarios)
            known = try Region.loadAll(directory: content.regions, library: library).map(\.name).sorted()
        } catch {
            throw SimulationError(.invalidConfiguration, "cannot load the regions of \(content.root.path): \(error)")
        }
        let regions = configuration.regions ?? known
        for name in regions where !known.contains(name) {
            throw SimulationError(.invalidConfiguration, "no region '\(name)' (known: \(known.joined(separator: ", ")))")
        }
        return (0..<configuration.nodes).map { index in
            let region = regions[index % regions.count]
            return (id: String(format: "%@-%04d", region, index), region: region)
        }
    }

    /// An empty `<output>/processes/`: a coordinator finding an old data directory would resume its rounds.
    private func prepareDirectory() throws(SimulationError) -> URL {
        let directory = configuration.processesDirectory
        do {
            if FileManager.default.fileExists(atPath: directory.path) { try FileManager.default.removeItem(at: directory) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SimulationError(.storage, "cannot prepare \(directory.path): \(error.localizedDescription)")
        }
        return directory
    }

    /// Starts the coordinator, learns its port, starts the nodes, then awaits the rounds.
    private func supervise(
        _ processes: ChildProcesses, placement: [(id: String, region: String)], credentials: FleetCredentials,
        started: ContinuousClock.Instant, onRound: @Sendable (ProcessRoundSummary) -> Void
    ) async throws -> (rounds: [ProcessRoundSummary], finalVersion: UInt64) {
        let directory = credentials.directory
        let coordinator = try ChildProcess(
            name: "coordinator", executable: executables.coordinator, arguments: coordinatorArguments(),
            directory: directory, logFile: directory.appendingPathComponent("coordinator.log"), readOutput: true)
        processes.add(coordinator)
        let port = try await listeningPort(of: coordinator)

        for (index, node) in placement.enumerated() {
            processes.add(try ChildProcess(
                name: node.id, executable: executables.node,
                arguments: nodeArguments(id: node.id, region: node.region, index: index, port: port),
                directory: directory, logFile: directory.appendingPathComponent("\(node.id).log")))
        }

        let observer = try CoordinatorObserver(
            port: port,
            certificate: directory.appendingPathComponent(FleetCredentials.certificate(of: Self.observer)),
            key: directory.appendingPathComponent(FleetCredentials.key(of: Self.observer)),
            ca: directory.appendingPathComponent(FleetCredentials.caCertificate))
        return try await awaitRounds(observer: observer, processes: processes, coordinator: coordinator, started: started, onRound: onRound)
    }

    /// Reads the coordinator's API every poll interval until enough rounds closed; fails when a
    /// process ends meanwhile or no round closes for longer than the patience.
    private func awaitRounds(
        observer: CoordinatorObserver, processes: ChildProcesses, coordinator: ChildProcess,
        started: ContinuousClock.Instant, onRound: @Sendable (ProcessRoundSummary) -> Void
    ) async throws -> (rounds: [ProcessRoundSummary], finalVersion: UInt64) {
        var tracker = RoundTracker()
        var finalVersion: UInt64 = 1
        var lastProgress = ContinuousClock.now
        var lastFailure: SimulationError?
        while true {
            if let exited = processes.firstEnded() {
                throw SimulationError(
                    .processFailed,
                    "\(exited.name) ended (\(Self.describe(exited.termination))) while round \(tracker.lastReported + 1) was awaited; "
                        + "the end of its log:\n\(exited.logTail())",
                    context: ["log": exited.logFile.path])
            }
            do {
                let observation = try await observer.observe()
                finalVersion = observation.status.currentVersion
                for round in tracker.record(observation, at: Self.seconds(since: started)) where round.round <= configuration.rounds {
                    onRound(round)
                    lastProgress = .now
                }
                lastFailure = nil
            } catch {
                lastFailure = error
            }
            if tracker.closed.count >= configuration.rounds { break }
            if ContinuousClock.now - lastProgress > configuration.patience {
                throw SimulationError(
                    .timedOut,
                    "no round closed for \(configuration.patience) (awaiting round \(tracker.lastReported + 1) of \(configuration.rounds))"
                        + (lastFailure.map { "; the coordinator's API: \($0.message)" } ?? "")
                        + "; the end of the coordinator's log:\n\(coordinator.logTail())",
                    context: ["log": coordinator.logFile.path])
            }
            try await Task.sleep(for: configuration.pollInterval)
        }
        return (Array(tracker.closed.prefix(configuration.rounds)), finalVersion)
    }

    /// The port from the coordinator's `fleet-coordinator listening on 127.0.0.1:PORT` line.
    private func listeningPort(of coordinator: ChildProcess) async throws -> Int {
        let line = await coordinator.firstLine(startingWith: Self.listeningPrefix, within: Self.startTimeout)
        try Task.checkCancellation()
        guard let line else {
            let why = coordinator.termination.map { "ended (\(Self.describe($0)))" } ?? "did not listen within \(Self.startTimeout)"
            throw SimulationError(
                .processFailed, "fleet-coordinator \(why); the end of its log:\n\(coordinator.logTail())",
                context: ["log": coordinator.logFile.path])
        }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), port > 0 else {
            throw SimulationError(.processFailed, "fleet-coordinator printed no port: '\(line)'", context: ["log": coordinator.logFile.path])
        }
        return port
    }

    // MARK: Command lines

    /// Synchronous rounds that open once the invited share of the fleet is alive and close when 80 %
    /// of the invited nodes have sent (a straggler's update waits for the next round, its captures
    /// kept), or at the deadline with what came (abandoned with nothing).
    func coordinatorArguments() -> [String] {
        let invited = Int((configuration.participation * Double(configuration.nodes)).rounded(.up))
        var arguments = [
            "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", "coordinator-data",
            "--simulator", configuration.simulatorContent.path, "--seed", "\(configuration.seed)",
            "--participation", "\(configuration.participation)", "--min-participants", "\(max(1, invited))",
            "--quorum", "0.8", "--min-updates", "1", "--deadline", "\(configuration.roundDeadline)",
            "--heartbeat-timeout", "30", "--tick-interval", "0.2", "--rule", configuration.aggregator,
            "--log-level", "info",
        ]
        if let rate = configuration.serverLearningRate { arguments += ["--server-learning-rate", "\(rate)"] }
        if let fraction = configuration.downlinkFraction { arguments += ["--downlink-fraction", "\(fraction)"] }
        if let rate = configuration.gateFalseRejectionRate { arguments += ["--gate-false-rejection-rate", "\(rate)"] }
        if let tolerance = configuration.interventionTolerance { arguments += ["--intervention-tolerance", "\(tolerance)"] }
        if configuration.boundsDrift { arguments += ["--bound-drift"] }
        if let episodes = configuration.gateEpisodesPerFamily { arguments += ["--gate-episodes-per-family", "\(episodes)"] }
        for family in configuration.gateFamilies { arguments += ["--gate-family", family] }
        return arguments
    }

    /// A node of `region`, seeded as the in-process simulation seeds its `index`th node.
    func nodeArguments(id: String, region: String, index: Int, port: Int) -> [String] {
        [
            "--coordinator", "https://127.0.0.1:\(port)",
            "--cert", FleetCredentials.certificate(of: id), "--key", FleetCredentials.key(of: id),
            "--ca", FleetCredentials.caCertificate, "--signing-key", FleetCredentials.signingPublicKey,
            "--data-dir", "\(id)-data", "--simulator", configuration.simulatorContent.path,
            "--region", region, "--seed", "\(SeededGenerator.mix(configuration.seed, UInt64(index)))",
            "--variations", "\(configuration.variations)", "--max-captures", "\(configuration.maxCaptures)",
            "--anchor-episodes", "\(configuration.anchorEpisodes)", "--speedup", "\(configuration.speedup)",
            "--poll-wait", "5", "--log-level", "info",
        ]
    }

    // MARK: Helpers

    static func describe(_ termination: ChildProcess.Termination?) -> String {
        guard let termination else { return "still running" }
        return termination.bySignal ? "signal \(termination.status)" : "exit status \(termination.status)"
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// The processes started so far, for supervision and the final stop.
final class ChildProcesses: Sendable {
    private let list = Mutex<[ChildProcess]>([])

    func add(_ process: ChildProcess) { list.withLock { $0.append(process) } }

    /// A process that has ended, if any (none should before the fleet is stopped).
    func firstEnded() -> ChildProcess? { list.withLock { $0.first { $0.termination != nil } } }

    /// Stops the nodes together, then the coordinator (the first started), so no node
    /// spends its last seconds failing to reach it.
    func stopAll(grace: Duration) async -> [ProcessExit] {
        let all = list.withLock { $0 }
        guard let first = all.first else { return [] }
        let nodes = await withTaskGroup(of: (Int, ProcessExit).self) { group in
            for (index, process) in all.dropFirst().enumerated() {
                group.addTask { (index, await process.stop(grace: grace)) }
            }
            var exits: [(Int, ProcessExit)] = []
            for await exit in group { exits.append(exit) }
            return exits.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return [await first.stop(grace: grace)] + nodes
    }
}
