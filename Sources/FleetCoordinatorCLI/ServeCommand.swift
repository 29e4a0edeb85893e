import Aggregation
import ArgumentParser
import Coordinator
import DrivingSimulator
import FleetEvaluation
import Foundation
import Logging
import Metrics
import PolicyNetwork
import Prometheus
import SecureTransport
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `fleet-coordinator serve`: runs the coordinator until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the coordinator API over HTTPS with mutual TLS (the default subcommand).",
        discussion: """
            Every option can also come from the environment as FLEET_COORDINATOR_<OPTION> \
            (upper case, dashes as underscores; repeatable options comma-separated; \
            FLEET_COORDINATOR_MANUAL_APPROVAL=1), e.g. FLEET_COORDINATOR_PORT=9443; a flag \
            on the command line wins. SIGINT or SIGTERM stops it gracefully: open requests \
            finish, the database is closed; an acknowledged update is never lost.
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable { case sync, async }
    enum Rule: String, ExpressibleByArgument, CaseIterable { case weightedMean = "weighted-mean", trimmedMean = "trimmed-mean", median }
    enum Optimizer: String, ExpressibleByArgument, CaseIterable { case fedavg, fedadam, fedyogi }

    // MARK: Network and files
    @Option(help: "Address to listen on (default 127.0.0.1). [env FLEET_COORDINATOR_HOST]") var host: String?
    @Option(help: "Port to listen on (default 8443; 0: any free port, printed at start). [env FLEET_COORDINATOR_PORT]") var port: Int?
    @Option(help: "Directory for the database and blobs (default coordinator-data). [env FLEET_COORDINATOR_DATA_DIR]") var dataDir: String?
    @Option(help: "Server certificate (PEM, default server.pem). [env FLEET_COORDINATOR_CERT]") var cert: String?
    @Option(help: "Server private key (PEM, default server.key). [env FLEET_COORDINATOR_KEY]") var key: String?
    @Option(help: "Fleet CA certificate (default ca.pem); clients must chain to it. [env FLEET_COORDINATOR_CA_CERT]") var caCert: String?
    @Option(help: "Revocation list (default revoked.txt; serials, one per line), re-read when it changes. [env FLEET_COORDINATOR_REVOKED]") var revoked: String?
    @Option(help: "Ed25519 model-signing key (default model-signing.key, from certs create-signing-key). [env FLEET_COORDINATOR_SIGNING_KEY]") var signingKey: String?
    @Option(help: "Simulator content directory (scenarios, gold suite, base model); found from the working directory if not given. [env FLEET_COORDINATOR_SIMULATOR]") var simulator: String?
    @Option(help: "Seed model checkpoint (safetensors) published as version 1 on first start (default: the committed base policy). [env FLEET_COORDINATOR_SEED_MODEL]") var seedModel: String?
    @Option(help: "A node id allowed to approve versions over HTTP (repeatable).") var `operator`: [String] = []

    // MARK: Connection limits
    @Option(help: "Most connections open at once, authenticated or not (default \(ConnectionLimits().maximumConnections)). [env FLEET_COORDINATOR_MAX_CONNECTIONS]")
    var maxConnections: Int?
    @Option(help: "Most connections open at once from one address, authenticated or not (default: no such cap; nodes behind one NAT share an address). [env FLEET_COORDINATOR_MAX_CONNECTIONS_PER_ADDRESS]")
    var maxConnectionsPerAddress: Int?
    @Option(help: "Most connections whose TLS handshake has not completed (default \(ConnectionLimits().maximumPendingHandshakes)). [env FLEET_COORDINATOR_MAX_PENDING_HANDSHAKES]")
    var maxPendingHandshakes: Int?
    @Option(help: "Most connections whose TLS handshake has not completed, per address (IPv6: per /64) (default \(ConnectionLimits().maximumPendingHandshakesPerAddress)). [env FLEET_COORDINATOR_MAX_PENDING_HANDSHAKES_PER_ADDRESS]")
    var maxPendingHandshakesPerAddress: Int?
    @Option(help: "Seconds a connection may take to complete its TLS handshake before it is closed (default 10). [env FLEET_COORDINATOR_HANDSHAKE_TIMEOUT]")
    var handshakeTimeout: Double?

    // MARK: Rounds
    @Option(help: "Round mode: sync (quorum or deadline, default) or async (FedBuff buffer).") var mode: Mode?
    @Option(help: "Async mode: updates per version (default 10).") var bufferSize: Int?
    @Option(help: "Share of live nodes invited to a round (0, 1] (default 1).") var participation: Double?
    @Option(help: "Fewest nodes a round opens with (default 1).") var minParticipants: Int?
    @Option(help: "Most nodes invited to a round (default 1000).") var maxParticipants: Int?
    @Option(help: "Share of invited nodes whose updates close the round early (0, 1] (default 0.8).") var quorum: Double?
    @Option(help: "Fewest updates a round needs at its deadline (default 1).") var minUpdates: Int?
    @Option(help: "Seconds from opening after which a round closes with what it has (default 300).") var deadline: Double?
    @Option(help: "Seconds without a heartbeat after which a node counts as offline (default 90).") var heartbeatTimeout: Double?
    @Option(help: "Seed of participant sampling (default 0).") var seed: UInt64?

    // MARK: Aggregation
    @Option(help: "How updates are combined: weighted-mean (default), trimmed-mean or median.") var rule: Rule?
    @Option(help: "trimmed-mean: share dropped at each end [0, 0.5) (default 0.2).") var trimFraction: Double?
    @Option(help: "Refuse updates whose L2 norm is above this (default \(AggregationConfiguration.defaultNormBound)).") var normBound: Double?
    @Option(help: "Scale updates whose L2 norm is above this down to it (default \(AggregationConfiguration.defaultClipNorm)).") var clipNorm: Double?
    @Option(help: "Most routed samples one update weighs with in any tensor's average (default \(AggregationConfiguration.defaultSampleCap)).")
    var sampleCap: UInt64?
    @Option(help: "Most experts one update may add (default 1; 0 refuses every addition).") var maxAddedExperts: Int?
    @Option(help: "Most experts the model may grow to (default 64).") var maxExperts: Int?
    @Option(help: "Most versions an update's base may lag behind (default 4).") var maxStaleness: Int?
    @Option(help: "Server optimizer: fedavg (default), fedadam or fedyogi.") var optimizer: Optimizer?
    @Option(help: "Server learning rate (default 1 for fedavg, 0.01 for fedadam/fedyogi).") var serverLearningRate: Float?
    @Option(help: "Share of each changed tensor the model delta nodes download keeps, int8, the rest carried to the next version (0, 1] (default \(CoordinatorConfiguration.defaultDownlink.fraction)).")
    var downlinkFraction: Double?

    // MARK: Gate
    @Option(help: "Chance the gate rejects a candidate no worse than the serving model, over all gold families (paired sign test per family; default 0.05, 0 never rejects on collisions).")
    var gateFalseRejectionRate: Double?
    @Option(help: "Most extra guardrail interventions per episode any family may need (default 0.05).") var interventionTolerance: Double?
    @Flag(help: "Also test every gold family against the fleet's first version, so small losses cannot add up over rounds.")
    var boundDrift = false
    @Option(help: "Gate on at most this many gold episodes per family (default: all).") var gateEpisodesPerFamily: Int?
    @Option(help: "Gate on this gold family only (repeatable; default: every family).") var gateFamily: [String] = []
    @Flag(help: "A candidate that passes the gate waits for `fleet-coordinator approve VERSION`.") var manualApproval = false
    @Flag(help: "A round whose whole aggregate fails the gate is rejected as it is, its updates not screened for a part that passes.")
    var noScreening = false

    // MARK: Process
    @Option(help: "Seconds between timer ticks (default 1).") var tickInterval: Double?
    @Option(help: "Seconds a signed freshness statement of the current version stays valid; nodes that see none valid for longer report the coordinator stale (default 86400, at least 60). [env FLEET_COORDINATOR_FRESHNESS_VALIDITY]")
    var freshnessValidity: Double?
    @Option(help: "Log level: trace, debug, info (default), notice, warning, error, critical. [env FLEET_COORDINATOR_LOG_LEVEL]") var logLevel: String?

    func run() async throws {
        var command = self
        try command.fillFromEnvironment()
        try await command.serve()
    }

    /// Options not given on the command line are taken from `FLEET_COORDINATOR_<OPTION>`.
    mutating func fillFromEnvironment() throws {
        let env = Environment()
        maxConnections = try maxConnections ?? env.value("MAX_CONNECTIONS")
        maxConnectionsPerAddress = try maxConnectionsPerAddress ?? env.value("MAX_CONNECTIONS_PER_ADDRESS")
        maxPendingHandshakes = try maxPendingHandshakes ?? env.value("MAX_PENDING_HANDSHAKES")
        maxPendingHandshakesPerAddress = try maxPendingHandshakesPerAddress ?? env.value("MAX_PENDING_HANDSHAKES_PER_ADDRESS")
        handshakeTimeout = try handshakeTimeout ?? env.value("HANDSHAKE_TIMEOUT")
        mode = try mode ?? env.value("MODE")
        bufferSize = try bufferSize ?? env.value("BUFFER_SIZE")
        participation = try participation ?? env.value("PARTICIPATION")
        minParticipants = try minParticipants ?? env.value("MIN_PARTICIPANTS")
        maxParticipants = try maxParticipants ?? env.value("MAX_PARTICIPANTS")
        quorum = try quorum ?? env.value("QUORUM")
        minUpdates = try minUpdates ?? env.value("MIN_UPDATES")
        deadline = try deadline ?? env.value("DEADLINE")
        heartbeatTimeout = try heartbeatTimeout ?? env.value("HEARTBEAT_TIMEOUT")
        seed = try seed ?? env.value("SEED")
        rule = try rule ?? env.value("RULE")
        trimFraction = try trimFraction ?? env.value("TRIM_FRACTION")
        normBound = try normBound ?? env.value("NORM_BOUND")
        clipNorm = try clipNorm ?? env.value("CLIP_NORM")
        sampleCap = try sampleCap ?? env.value("SAMPLE_CAP")
        maxAddedExperts = try maxAddedExperts ?? env.value("MAX_ADDED_EXPERTS")
        maxExperts = try maxExperts ?? env.value("MAX_EXPERTS")
        maxStaleness = try maxStaleness ?? env.value("MAX_STALENESS")
        optimizer = try optimizer ?? env.value("OPTIMIZER")
        serverLearningRate = try serverLearningRate ?? env.value("SERVER_LEARNING_RATE")
        gateFalseRejectionRate = try gateFalseRejectionRate ?? env.value("GATE_FALSE_REJECTION_RATE")
        interventionTolerance = try interventionTolerance ?? env.value("INTERVENTION_TOLERANCE")
        gateEpisodesPerFamily = try gateEpisodesPerFamily ?? env.value("GATE_EPISODES_PER_FAMILY")
        tickInterval = try tickInterval ?? env.value("TICK_INTERVAL")
        freshnessValidity = try freshnessValidity ?? env.value("FRESHNESS_VALIDITY")
        if gateFamily.isEmpty, let families = env["GATE_FAMILY"] { gateFamily = families.split(separator: ",").map(String.init) }
        if `operator`.isEmpty, let operators = env["OPERATOR"] { `operator` = operators.split(separator: ",").map(String.init) }
        if !manualApproval, env["MANUAL_APPROVAL"] == "1" || env["MANUAL_APPROVAL"] == "true" { manualApproval = true }
        if !noScreening, env["NO_SCREENING"] == "1" || env["NO_SCREENING"] == "true" { noScreening = true }
    }

    func serve() async throws {
        let limits = try connectionLimits()
        HeapKeeper.capArenas()
        let env = Environment()
        let level = Logger.Level(rawValue: logLevel ?? env["LOG_LEVEL"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fleet.coordinator")
        OpenFileLimit.raise(for: limits, logger: logger)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let dataDirectory = URL(fileURLWithPath: dataDir ?? env["DATA_DIR"] ?? "coordinator-data")
        let configuration = CoordinatorConfiguration(
            dataDirectory: dataDirectory,
            rounds: try roundConfiguration(),
            aggregation: aggregationConfiguration(),
            serverOptimizer: optimizerKind(),
            downlink: .init(fraction: downlinkFraction ?? CoordinatorConfiguration.defaultDownlink.fraction, quantize: true),
            gate: .init(
                falseRejectionRate: gateFalseRejectionRate ?? 0.05, interventionTolerance: interventionTolerance ?? 0.05,
                requiresApproval: manualApproval, screensUpdates: !noScreening, boundsDrift: boundDrift
            ),
            gateSuite: .init(episodesPerFamily: gateEpisodesPerFamily, families: gateFamily.isEmpty ? nil : gateFamily),
            tickInterval: tickInterval ?? 1,
            operators: Set(`operator`),
            freshnessValidity: freshnessValidity ?? CoordinatorConfiguration.defaultFreshnessValidity
        )
        // Every file is read before anything is opened or written.
        let tls = TLSConfiguration.server(
            certificateChain: try Certificate.chain(pem: String(contentsOfFile: cert ?? env["CERT"] ?? "server.pem", encoding: .utf8)),
            privateKey: try PrivateKey(pemFile: key ?? env["KEY"] ?? "server.key"),
            trustRoots: [try Certificate(pemFile: caCert ?? env["CA_CERT"] ?? "ca.pem")]
        )
        let content = try simulatorContent(env)
        let gate = try RegressionGate.make(content: content, configuration: configuration.gate, selection: configuration.gateSuite)
        let signing = try PrivateKey(pemFile: signingKey ?? env["SIGNING_KEY"] ?? "model-signing.key")
        let seedPath = seedModel ?? env["SEED_MODEL"]
        let service = try await CoordinatorService(
            configuration: configuration,
            initialModel: {
                if let seedPath { return try MoEPolicy(contentsOf: seedPath) }
                return try BasePolicy.load(from: content)
            },
            signingKey: signing, gate: gate, metrics: CoordinatorMetrics(), logger: logger
        )

        let revocationPath = revoked ?? env["REVOKED"] ?? "revoked.txt"
        let server = CoordinatorHTTPServer.Configuration(
            host: host ?? env["HOST"] ?? "127.0.0.1",
            port: port ?? env["PORT"].flatMap(Int.init) ?? 8443,
            tls: tls, revocationList: RevocationList(path: revocationPath), connectionLimits: limits
        )
        let application = try CoordinatorHTTPServer.application(
            service: service, configuration: server, metricsRegistry: registry, logger: logger,
            onServerRunning: { channel in
                let address = channel.localAddress
                // One line on stdout, so scripts (and tests) learn the port when --port 0.
                let line = "fleet-coordinator listening on \(address?.ipAddress ?? server.host):\(address?.port ?? server.port)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service), .init(service: application), .init(service: HeapKeeper())],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// The connection caps from the options, validated; a bad value is reported with its flag.
    func connectionLimits() throws -> ConnectionLimits {
        var limits = ConnectionLimits()
        if let maxConnections { limits.maximumConnections = maxConnections }
        limits.maximumConnectionsPerAddress = maxConnectionsPerAddress
        if let maxPendingHandshakes { limits.maximumPendingHandshakes = maxPendingHandshakes }
        if let maxPendingHandshakesPerAddress { limits.maximumPendingHandshakesPerAddress = maxPendingHandshakesPerAddress }
        if let handshakeTimeout {
            guard handshakeTimeout > 0, handshakeTimeout.isFinite else {
                throw ValidationError("--handshake-timeout must be a positive number of seconds (it is \(handshakeTimeout))")
            }
            limits.handshakeTimeout = .nanoseconds(Int64(handshakeTimeout * 1e9))
        }
        if let (field, reason) = limits.problem {
            let flag = switch field {
            case .maximumConnections: "--max-connections"
            case .maximumConnectionsPerAddress: "--max-connections-per-address"
            case .maximumPendingHandshakes: "--max-pending-handshakes"
            case .maximumPendingHandshakesPerAddress: "--max-pending-handshakes-per-address"
            case .handshakeTimeout: "--handshake-timeout"
            }
            throw ValidationError("\(flag) \(reason)")
        }
        return limits
    }

    func roundConfiguration() throws -> RoundConfiguration {
        let defaults = RoundConfiguration()
        let roundMode: RoundConfiguration.Mode = (mode ?? .sync) == .sync ? .synchronous : .asynchronous(bufferSize: bufferSize ?? 10)
        return RoundConfiguration(
            mode: roundMode,
            participationFraction: participation ?? defaults.participationFraction,
            minParticipants: minParticipants ?? defaults.minParticipants,
            maxParticipants: maxParticipants ?? defaults.maxParticipants,
            quorumFraction: quorum ?? defaults.quorumFraction,
            minUpdates: minUpdates ?? defaults.minUpdates,
            deadline: deadline ?? defaults.deadline,
            heartbeatTimeout: heartbeatTimeout ?? defaults.heartbeatTimeout,
            seed: seed ?? defaults.seed
        )
    }

    func aggregationConfiguration() -> AggregationConfiguration {
        let combined: AggregationConfiguration.Rule = switch rule ?? .weightedMean {
        case .weightedMean: .weightedMean
        case .trimmedMean: .trimmedMean(fraction: trimFraction ?? 0.2)
        case .median: .median
        }
        let defaults = AggregationConfiguration()
        return AggregationConfiguration(
            rule: combined, normBound: normBound ?? defaults.normBound, clipNorm: clipNorm ?? defaults.clipNorm,
            sampleCap: sampleCap ?? defaults.sampleCap, maxAddedExperts: maxAddedExperts ?? defaults.maxAddedExperts,
            maxExperts: maxExperts ?? defaults.maxExperts, maxStaleness: maxStaleness ?? defaults.maxStaleness)
    }

    func optimizerKind() -> ServerOptimizer.Kind {
        switch optimizer ?? .fedavg {
        case .fedavg: .fedAvg(learningRate: serverLearningRate ?? 1)
        case .fedadam: .fedAdam(learningRate: serverLearningRate ?? 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3)
        case .fedyogi: .fedYogi(learningRate: serverLearningRate ?? 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3)
        }
    }

    func simulatorContent(_ env: Environment) throws -> SimulatorContent {
        if let path = simulator ?? env["SIMULATOR"] { return SimulatorContent(root: URL(fileURLWithPath: path)) }
        guard let found = SimulatorContent.locate() else {
            throw ValidationError("no Simulator/ directory found from here; pass --simulator PATH")
        }
        return found
    }
}

/// `FLEET_COORDINATOR_<NAME>` environment variables.
struct Environment {
    let values = ProcessInfo.processInfo.environment
    subscript(name: String) -> String? {
        values["FLEET_COORDINATOR_" + name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The variable parsed as an option value (nil when unset or unparsable).
    func value<T: ExpressibleByArgument>(_ name: String) throws -> T? {
        guard let text = self[name] else { return nil }
        guard let value = T(argument: text) else {
            throw ValidationError("FLEET_COORDINATOR_\(name)='\(text)' is not a valid value for --\(name.lowercased().replacingOccurrences(of: "_", with: "-"))")
        }
        return value
    }
}
