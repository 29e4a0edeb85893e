import DrivingSimulator
import EdgeLearning
public import Foundation
public import Logging
public import SecureTransport

/// Turns settings into a running node: files read, keys parsed, the TLS
/// context built, the connection and the agent made.
///
/// Why here and not in the executable: the executable only parses and
/// bootstraps; tests and the fleet simulation build nodes the same way.
public enum NodeBuilder {
    /// The defaults for settings nobody gave.
    public static let defaultCA = "ca.pem"
    public static let defaultSigningKey = "model-signing.pub"
    public static let defaultDataDirectory = "fleet-node-data"
    public static let defaultRegion = "highway"
    public static let defaultVariations = 1_000

    /// The validated agent configuration and what the connection needs.
    public struct Plan: Sendable {
        public var configuration: EdgeNodeConfiguration
        public var connection: ConnectionConfiguration
        public var tls: TLSConfiguration
        public var signingKey: PublicKey
        public var metricsFile: String
    }

    /// Reads every file the settings name and checks every value.
    /// - Throws: ``AgentError`` naming the setting that is missing or wrong.
    public static func plan(_ settings: NodeSettings, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        throws(AgentError) -> Plan
    {
        func bad(_ field: String, _ message: String) -> AgentError {
            AgentError(.invalidConfiguration, "\(field): \(message)", context: ["field": field])
        }
        guard let url = settings.coordinator else { throw bad("coordinator", "the coordinator's URL is required (https://host:port)") }
        let connection: ConnectionConfiguration
        do { connection = try ConnectionConfiguration(url: url) } catch { throw bad("coordinator", error.message) }
        guard let certPath = settings.cert else { throw bad("cert", "the node's certificate (PEM) is required") }
        guard let keyPath = settings.key else { throw bad("key", "the node's private key (PEM) is required") }
        let caPath = settings.ca ?? defaultCA
        let signingPath = settings.signingKey ?? defaultSigningKey

        let chain: [Certificate], key: PrivateKey, roots: [Certificate], signingKey: PublicKey
        do { chain = try Certificate.chain(pem: try read(resolve(certPath, in: workingDirectory).path, field: "cert")) } catch let error as AgentError { throw error } catch {
            throw bad("cert", "\(certPath) is not a PEM certificate: \(error)")
        }
        guard let nodeID = chain.first?.nodeID else {
            throw bad("cert", "\(certPath) carries no fleet://node/<id> identity; issue it with `fleet-coordinator certs issue-node`")
        }
        do { key = try PrivateKey(pem: try read(resolve(keyPath, in: workingDirectory).path, field: "key")) } catch let error as AgentError { throw error } catch {
            throw bad("key", "\(keyPath) is not a PEM private key: \(error)")
        }
        do { roots = try Certificate.chain(pem: try read(resolve(caPath, in: workingDirectory).path, field: "ca")) } catch let error as AgentError { throw error } catch {
            throw bad("ca", "\(caPath) is not a PEM certificate: \(error)")
        }
        do { signingKey = try PublicKey(pem: try read(resolve(signingPath, in: workingDirectory).path, field: "signing-key")) } catch let error as AgentError { throw error } catch {
            throw bad("signing-key", "\(signingPath) is not a PEM public key: \(error)")
        }
        let tls = TLSConfiguration.client(trustRoots: roots, certificateChain: chain, privateKey: key)

        let simulator: URL
        if let path = settings.simulator {
            simulator = resolve(path, in: workingDirectory)
        } else if let found = SimulatorContent.locate(from: workingDirectory) {
            simulator = found.root
        } else {
            throw bad("simulator", "no Simulator/ directory here or above; pass --simulator PATH")
        }
        let source: EdgeNodeConfiguration.Source
        switch settings.observations ?? "simulated" {
        case "simulated": source = .simulated(region: settings.region ?? defaultRegion)
        case "-", "stdin": source = .jsonLines(path: nil)
        case let path: source = .jsonLines(path: path)
        }
        var learner = EdgeLearner.Configuration()
        let variations = settings.variations ?? defaultVariations
        guard variations >= 1 else { throw bad("variations", "must be ≥ 1, got \(variations)") }
        learner.synthesis.count = variations
        let seed = settings.seed ?? stableSeed(nodeID)
        learner.seed = seed
        let dataDirectory = resolve(settings.dataDir ?? defaultDataDirectory, in: workingDirectory)
        var configuration = EdgeNodeConfiguration(
            nodeID: nodeID, dataDirectory: dataDirectory, source: source, simulatorContent: simulator, seed: seed, learner: learner)
        if let value = settings.anchorEpisodes { configuration.anchorEpisodesPerFamily = value }
        if let value = settings.maxCaptures { configuration.maxCapturesPerLesson = value }
        if let value = settings.pollWait { configuration.pollWaitSeconds = value }
        if let value = settings.speedup { configuration.speedup = value }
        if let value = settings.shadowTeacher { configuration.shadowTeacher = value }
        if let value = settings.guardrail { configuration.guardrail = value }
        configuration.decisionsOutput = settings.decisions
        try configuration.validate()
        let metricsFile = settings.metricsFile ?? dataDirectory.appendingPathComponent("metrics.prom").path
        return Plan(configuration: configuration, connection: connection, tls: tls, signingKey: signingKey, metricsFile: metricsFile)
    }

    /// Builds the agent and its HTTPS connection from a plan.
    public static func build(_ plan: Plan, logger: Logger) throws(AgentError) -> EdgeNodeAgent {
        let context: TLSContext
        do { context = try TLSContext(configuration: plan.tls) } catch {
            throw AgentError(.invalidConfiguration, "the node's TLS settings are unusable: \(error.message)", context: ["field": "cert"])
        }
        let connection: HTTPSCoordinatorConnection
        do { connection = try HTTPSCoordinatorConnection(configuration: plan.connection, tls: context) } catch {
            throw AgentError(.invalidConfiguration, error.message, context: ["field": "coordinator"])
        }
        return try EdgeNodeAgent(
            configuration: plan.configuration, connection: connection, verifier: ModelVerifier(signingKey: plan.signingKey), logger: logger)
    }

    /// A seed derived from the node id (FNV-1a), so each node drives its own episodes by default.
    static func stableSeed(_ nodeID: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in nodeID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash & EpisodeSpec.seedMask
    }

    /// An absolute path as it is; a relative one below `directory`.
    static func resolve(_ path: String, in directory: URL) -> URL {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
        return url.standardizedFileURL
    }

    private static func read(_ path: String, field: String) throws(AgentError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentError(.invalidConfiguration, "\(field): cannot read \(path)", context: ["field": field])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
