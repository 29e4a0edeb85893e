import EdgeLearning
import Foundation
import Testing
@testable import EdgeNode
@testable import SecureTransport

/// Settings from flags, environment and a config file become one checked plan.
@Suite("Node settings")
struct LaunchTests {
    let fleet = TestFleet.shared

    /// Writes the node's files (certificate, key, CA, signing key) and returns their directory.
    func files() throws -> URL {
        let directory = fleet.dataDirectory("launch")
        try fleet.node.write(certificateFile: directory.appendingPathComponent("car-7.pem").path,
                             keyFile: directory.appendingPathComponent("car-7.key").path)
        try fleet.authority.certificate.pem.write(to: directory.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        try fleet.signingKey.publicKey.pem.write(
            to: directory.appendingPathComponent("model-signing.pub"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test("flags win over the environment, the environment over the config file")
    func precedence() throws {
        let directory = fleet.dataDirectory("precedence")
        let file = directory.appendingPathComponent("node.json")
        try Data(#"{"region": "alpine", "seed": 5, "variations": 40, "coordinator": "https://file:1", "shadow-teacher": true}"#.utf8)
            .write(to: file)
        let fromFile = try NodeSettings(configFile: file.path)
        let fromEnvironment = try NodeSettings(environment: ["FLEET_NODE_SEED": "6", "FLEET_NODE_REGION": "coastal", "PATH": "/bin"])
        var flags = NodeSettings()
        flags.region = "urban"
        let merged = flags.merged(over: fromEnvironment.merged(over: fromFile))
        #expect(merged.region == "urban")
        #expect(merged.seed == 6)
        #expect(merged.variations == 40)
        #expect(merged.coordinator == "https://file:1")
        #expect(merged.shadowTeacher == true)
    }

    @Test("bad values are refused naming the setting", arguments: [
        (#"{"seed": "many"}"#, "seed"),
        (#"{"regoin": "alpine"}"#, "unknown key 'regoin'"),
        (#"[1, 2]"#, "one JSON object"),
        (#"{"guardrail": "perhaps"}"#, "guardrail"),
    ])
    func badConfigFile(_ text: String, _ named: String) throws {
        let file = fleet.dataDirectory("bad").appendingPathComponent("node.json")
        try Data(text.utf8).write(to: file)
        do {
            _ = try NodeSettings(configFile: file.path)
            Issue.record("\(text) must be refused")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(named), "\(error.message)")
        }
    }

    @Test("a bad environment value names its variable")
    func badEnvironment() {
        do {
            _ = try NodeSettings(environment: ["FLEET_NODE_POLL_WAIT": "soon"])
            Issue.record("must be refused")
        } catch {
            #expect(error.message.contains("FLEET_NODE_POLL_WAIT"))
        }
    }

    @Test("the plan reads the node id from the certificate and fills the defaults")
    func plan() throws {
        let directory = try files()
        var settings = NodeSettings()
        settings.coordinator = "https://127.0.0.1:9443"
        settings.cert = directory.appendingPathComponent("car-7.pem").path
        settings.key = directory.appendingPathComponent("car-7.key").path
        settings.ca = directory.appendingPathComponent("ca.pem").path
        settings.signingKey = directory.appendingPathComponent("model-signing.pub").path
        settings.simulator = fleet.simulator.path
        settings.variations = 12
        let plan = try NodeBuilder.plan(settings, workingDirectory: directory)
        #expect(plan.configuration.nodeID == "car-7")
        #expect(plan.connection.port == 9443)
        #expect(plan.configuration.source == .simulated(region: "highway"))
        #expect(plan.configuration.learner.synthesis.count == 12)
        #expect(plan.configuration.dataDirectory.path == directory.appendingPathComponent("fleet-node-data").path)
        let agent = try NodeBuilder.build(plan, logger: AgentTests.quiet)
        #expect(agent.live.version == 0)
    }

    @Test("missing or unusable settings name what to fix", arguments: [
        ("coordinator", "coordinator"), ("cert", "cert"), ("signing-key", "signing-key"), ("region", "region"),
    ])
    func planErrors(_ broken: String, _ named: String) throws {
        let directory = try files()
        var settings = NodeSettings()
        settings.coordinator = broken == "coordinator" ? "http://127.0.0.1:9443" : "https://127.0.0.1:9443"
        settings.cert = directory.appendingPathComponent(broken == "cert" ? "missing.pem" : "car-7.pem").path
        settings.key = directory.appendingPathComponent("car-7.key").path
        settings.ca = directory.appendingPathComponent("ca.pem").path
        settings.signingKey = directory.appendingPathComponent(broken == "signing-key" ? "ca.pem" : "model-signing.pub").path
        settings.simulator = fleet.simulator.path
        if broken == "region" { settings.region = "atlantis" }
        do {
            let plan = try NodeBuilder.plan(settings, workingDirectory: directory)
            _ = try NodeBuilder.build(plan, logger: AgentTests.quiet)
            Issue.record("\(broken) must be refused")
        } catch {
            #expect(error.message.hasPrefix(named), "\(error.message)")
        }
    }
}
