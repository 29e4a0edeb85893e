import ArgumentParser
import EdgeNode
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `fleet-node`: one edge node — drive, capture edge cases, adapt, sync with the coordinator.
@main
struct FleetNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-node",
        abstract: "Runs one Fleet Learning edge node: drives, captures edge cases, learns from them and syncs with the coordinator.",
        discussion: """
            Every setting can come from a flag, from an environment variable FLEET_NODE_<NAME> \
            (e.g. FLEET_NODE_SIGNING_KEY) or from the JSON config file given with --config, whose \
            keys are the long flag names ({"coordinator": "https://127.0.0.1:8443", "signing-key": \
            "model-signing.pub"}). Flags win over the environment, the environment over the file.

            The node's identity is the fleet://node/<id> of its certificate (made with \
            `fleet-coordinator certs issue-node`). Every model is checked against the fleet's \
            model-signing public key before it drives. Captures wait in <data-dir>/spool while \
            the coordinator is unreachable; SIGINT or SIGTERM stops the node gracefully and \
            leaves the spool intact.

            Observation sources: `simulated` (the built-in simulated vehicle in --region), `-` \
            (JSON lines on standard input) or a file of JSON lines. Each line is \
            {"time": s, "observation": [109 numbers], "lane_width": m, "scene": <world>}; see \
            README.md. With --decisions the node answers each frame with its action.
            """
    )

    @Option(name: .long, help: ArgumentHelp("A JSON config file (keys = long flag names).", valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The coordinator's URL, https://host:port. [FLEET_NODE_COORDINATOR]", valueName: "url"))
    var coordinator: String?

    @Option(name: .long, help: ArgumentHelp("The node's certificate (PEM). [FLEET_NODE_CERT]", valueName: "path"))
    var cert: String?

    @Option(name: .long, help: ArgumentHelp("The node's private key (PEM). [FLEET_NODE_KEY]", valueName: "path"))
    var key: String?

    @Option(name: .long, help: ArgumentHelp("The fleet CA certificate (PEM). Default ca.pem. [FLEET_NODE_CA]", valueName: "path"))
    var ca: String?

    @Option(name: .customLong("signing-key"),
            help: ArgumentHelp("The fleet's model-signing public key (PEM). Default model-signing.pub. [FLEET_NODE_SIGNING_KEY]", valueName: "path"))
    var signingKey: String?

    @Option(name: .customLong("data-dir"),
            help: ArgumentHelp("Where the spool and the verified model live. Default fleet-node-data. [FLEET_NODE_DATA_DIR]", valueName: "path"))
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp("The simulated vehicle's region (Simulator/regions/<name>.json). Default highway. [FLEET_NODE_REGION]", valueName: "name"))
    var region: String?

    @Option(name: .long, help: ArgumentHelp("simulated, - (stdin) or a JSON-lines file. Default simulated. [FLEET_NODE_OBSERVATIONS]", valueName: "source"))
    var observations: String?

    @Option(name: .long, help: ArgumentHelp("Write one decision per frame of a JSON-lines feed here (- for stdout). [FLEET_NODE_DECISIONS]", valueName: "path"))
    var decisions: String?

    @Option(name: .long, help: ArgumentHelp("The Simulator/ content directory. Default: found from the working directory. [FLEET_NODE_SIMULATOR]", valueName: "path"))
    var simulator: String?

    @Option(name: .long, help: ArgumentHelp("Seeds driving, backoff jitter and learning. Default: derived from the node id. [FLEET_NODE_SEED]", valueName: "n"))
    var seed: UInt64?

    @Option(name: .long, help: ArgumentHelp("Simulated variations per capture. Default 1000. [FLEET_NODE_VARIATIONS]", valueName: "n"))
    var variations: Int?

    @Option(name: .customLong("anchor-episodes"),
            help: ArgumentHelp("Ordinary-driving episodes per family replayed while adapting (0: none). Default 2. [FLEET_NODE_ANCHOR_EPISODES]", valueName: "n"))
    var anchorEpisodes: Int?

    @Option(name: .customLong("max-captures"),
            help: ArgumentHelp("The most captures one lesson learns from (oldest first; a smaller lesson costs less CPU). Default 8. [FLEET_NODE_MAX_CAPTURES]", valueName: "n"))
    var maxCaptures: Int?

    @Option(name: .customLong("poll-wait"), help: ArgumentHelp("Seconds a task long poll waits (0…60). Default 30. [FLEET_NODE_POLL_WAIT]", valueName: "s"))
    var pollWait: Int?

    @Option(name: .long,
            help: ArgumentHelp("Simulated seconds driven per wall-clock second (0: as fast as the CPU allows). Default 10. [FLEET_NODE_SPEEDUP]", valueName: "x"))
    var speedup: Double?

    @Option(name: .customLong("shadow-teacher"),
            help: ArgumentHelp("Let the teacher watch the simulated drive (disagreement trigger): true or false. Default false. [FLEET_NODE_SHADOW_TEACHER]", valueName: "bool"))
    var shadowTeacher: Bool?

    @Option(name: .long, help: ArgumentHelp("Filter the policy with the safety guardrail: true or false. Default true. [FLEET_NODE_GUARDRAIL]", valueName: "bool"))
    var guardrail: Bool?

    @Option(name: .customLong("log-level"),
            help: ArgumentHelp("trace, debug, info, notice, warning, error or critical. Default info. [FLEET_NODE_LOG_LEVEL]", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("metrics-file"),
            help: ArgumentHelp("Prometheus text file refreshed every 15 s. Default <data-dir>/metrics.prom. [FLEET_NODE_METRICS_FILE]", valueName: "path"))
    var metricsFile: String?

    mutating func run() async throws {
        let settings: NodeSettings
        let plan: NodeBuilder.Plan
        do {
            settings = try gatheredSettings()
            plan = try NodeBuilder.plan(settings)
        } catch {
            throw ValidationError(error.message)
        }
        let levelName = settings.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("log-level: '\(levelName)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let logger = Logger(label: "fleet.node")
        let agent: EdgeNodeAgent
        do { agent = try NodeBuilder.build(plan, logger: logger) } catch {
            throw ValidationError(error.message)
        }
        let metrics = MetricsFileWriter(registry: registry, path: plan.metricsFile, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                // Shut down in reverse order: the agent first, then the final metrics file.
                services: [
                    .init(service: metrics),
                    .init(service: agent),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// Flags over environment over config file.
    private func gatheredSettings() throws(AgentError) -> NodeSettings {
        var flags = NodeSettings()
        flags.coordinator = coordinator
        flags.cert = cert
        flags.key = key
        flags.ca = ca
        flags.signingKey = signingKey
        flags.dataDir = dataDir
        flags.region = region
        flags.observations = observations
        flags.decisions = decisions
        flags.simulator = simulator
        flags.seed = seed
        flags.variations = variations
        flags.anchorEpisodes = anchorEpisodes
        flags.maxCaptures = maxCaptures
        flags.pollWait = pollWait
        flags.speedup = speedup
        flags.shadowTeacher = shadowTeacher
        flags.guardrail = guardrail
        flags.logLevel = logLevel
        flags.metricsFile = metricsFile
        let environment = ProcessInfo.processInfo.environment
        let fromEnvironment = try NodeSettings(environment: environment)
        let configPath = config ?? environment["FLEET_NODE_CONFIG"]
        let fromFile = try configPath.map { path throws(AgentError) in try NodeSettings(configFile: path) } ?? NodeSettings()
        return flags.merged(over: fromEnvironment.merged(over: fromFile))
    }
}
