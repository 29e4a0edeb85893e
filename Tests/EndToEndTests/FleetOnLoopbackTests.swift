import DrivingSimulator
import EdgeLearning
import FleetWire
import Foundation
import SecureTransport
import Testing

/// The product as an operator installs it: `fleet-coordinator` and three `fleet-node`
/// processes on 127.0.0.1, their keys made by `fleet-coordinator certs`.
///
/// Why real processes: every other suite drives one side in-process against a
/// stand-in for the other. Only here do the certificate files, the command-line
/// flags, mutual TLS, the long poll, the upload, aggregation, the gate, signing,
/// the node's signature check, hot swap and graceful shutdown meet as shipped.
/// The settings are tiny (lessons of one capture and two variations without
/// ordinary-driving replay, one gold episode of one family, a loose gate) so
/// two rounds finish in well under a minute of a DEBUG build on two idle cores;
/// the gate's judgement and the lessons' quality are tested elsewhere, here only
/// that they are carried out. The waits for lessons, rounds and pulls are bound
/// by how long the fleet may go without progress, not by a total, so a machine
/// busy with other work slows the test down instead of failing it.
@Suite("end to end: a coordinator and three nodes as real processes on 127.0.0.1", .timeLimit(.minutes(60)))
struct FleetOnLoopbackTests {
    static let nodes = ["car-1", "car-2", "car-3"]
    /// A node given the wrong model-signing public key.
    static let misconfigured = "car-4"
    /// The version two published rounds lead to (version 1 is the seed model).
    static let targetVersion: UInt64 = 3
    /// The longest the fleet may go without progress (a round or version moving on, a node
    /// logging a step) while it publishes both rounds and every node pulls the result: longer
    /// than the round deadline, which a round may wait out with nothing else to show.
    static let patience: Duration = .seconds(360)

    @Test("certs, a coordinator and three nodes: two rounds publish, every node pulls and verifies the new version, SIGTERM stops all with exit 0 and the spool intact")
    func fleetOnLoopback() async throws {
        guard let curl = Command.find("curl") else {
            print("skipped: the curl binary is not installed (scripts/bootstrap test installs it)"); return
        }
        guard let coordinatorExecutable = FleetProcess.executable("fleet-coordinator"),
              let nodeExecutable = FleetProcess.executable("fleet-node") else {
            print("skipped: fleet-coordinator or fleet-node was not found beside the test bundle (run `swift build` first)"); return
        }
        let content = try #require(SimulatorContent.locate(from: URL(fileURLWithPath: #filePath)), "the Simulator/ content directory")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-e2e-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // FLEET_E2E_KEEP=1 keeps the logs and data directories for a look after the run.
        let keep = ProcessInfo.processInfo.environment["FLEET_E2E_KEEP"] == "1"
        defer {
            if keep { print("end to end: kept \(directory.path)") } else { try? FileManager.default.removeItem(at: directory) }
        }

        // 1. The fleet's keys, made as the README tells an operator to.
        let certificates: [[String]] = [
            ["create-ca"], ["issue-server", "--ip", "127.0.0.1"], ["create-signing-key"],
        ] + (Self.nodes + [Self.misconfigured]).map { ["issue-node", "--node", $0] } + [
            // A signing key that is not the coordinator's, for the node that must refuse every model.
            ["create-signing-key", "--key", "other-signing.key", "--public-key", "other-signing.pub"],
        ]
        for arguments in certificates {
            let output = try await Command.run(coordinatorExecutable, ["certs"] + arguments, in: directory)
            try #require(output.status == 0, "certs \(arguments.joined(separator: " ")): \(output.stderr)")
        }
        for file in ["ca.pem", "ca.key", "server.pem", "server.key", "model-signing.key", "model-signing.pub"]
            + Self.nodes.flatMap({ ["\($0).pem", "\($0).key"] }) {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), "certs wrote \(file)")
        }

        // 2. The coordinator, on a port of its choosing. A round opens once all three nodes are
        //    alive and closes at two updates (a straggler never holds it up) or after 240 s. The
        //    deadline and the heartbeat timeout only matter when something is wrong, so they are
        //    long enough for lessons and heartbeats on a machine busy with other work: a deadline
        //    shorter than a lesson would abandon round after round.
        let fleet = Fleet(directory: directory, curl: curl)
        let coordinator = try FleetProcess(
            name: "coordinator", executable: coordinatorExecutable,
            arguments: [
                "serve", "--port", "0", "--data-dir", "coordinator-data", "--simulator", content.root.path,
                "--min-participants", "3", "--quorum", "0.66", "--min-updates", "1", "--deadline", "240",
                "--heartbeat-timeout", "120", "--tick-interval", "0.2",
                "--gate-episodes-per-family", "1", "--gate-family", "cut-in",
                "--gate-false-rejection-rate", "0", "--intervention-tolerance", "100",
                "--log-level", "info",
            ],
            directory: directory, logFile: directory.appendingPathComponent("coordinator.log"))
        fleet.add(coordinator)

        let outcome: Result<Void, any Error>
        do {
            try await fleet.run(coordinator: coordinator, nodeExecutable: nodeExecutable, content: content)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // Whatever happened, nothing outlives the test.
        await fleet.killAll()
        if case .failure(let error) = outcome {
            Issue.record(error, "logs:\n\(fleet.logTails())")
        }
    }
}

/// The processes of one run, and the steps the test takes with them.
final class Fleet: Sendable {
    let directory: URL
    let curl: String
    private let started = ContinuousClock.now
    private let processes = ProcessList()

    init(directory: URL, curl: String) {
        self.directory = directory
        self.curl = curl
    }

    func add(_ process: FleetProcess) { processes.append(process) }

    func killAll() async {
        for process in processes.all where process.isRunning { await process.stop(SIGKILL) }
    }

    func logTails() -> String {
        processes.all.map { "--- \($0.name) ---\n" + String($0.log.suffix(3_000)) }.joined(separator: "\n")
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Prints a milestone with the seconds since the fleet was set up (the run's timeline in the test output).
    func milestone(_ what: String) {
        let elapsed = ContinuousClock.now - started
        print("end to end: \(what) after \(elapsed.components.seconds) s")
    }

    func run(coordinator: FleetProcess, nodeExecutable: String, content: SimulatorContent) async throws {
        let port = try await eventually("the coordinator prints its port", within: FleetOnLoopbackTests.patience) { () -> Int? in
            guard coordinator.isRunning else { throw EndToEndError("the coordinator exited at start") }
            guard let line = coordinator.log.split(separator: "\n").first(where: { $0.hasPrefix("fleet-coordinator listening on ") }) else {
                return nil
            }
            return line.split(separator: ":").last.flatMap { Int($0) }
        }
        let initial = try await status(port)
        #expect(initial.currentVersion == 1, "the seed model is version 1")

        // 3. Three nodes. Each lesson learns from one capture and two variations of it, without
        //    ordinary-driving replay (a DEBUG build learns slowly). They drive at ten times real
        //    time: the highway meets an edge case within seconds at that pace, and three nodes
        //    driving flat out (--speedup 0) would take the two cores their lessons need.
        var nodes: [String: FleetProcess] = [:]
        for (index, node) in FleetOnLoopbackTests.nodes.enumerated() {
            let process = try FleetProcess(
                name: node, executable: nodeExecutable,
                arguments: [
                    "--coordinator", "https://127.0.0.1:\(port)",
                    "--cert", "\(node).pem", "--key", "\(node).key", "--ca", "ca.pem", "--signing-key", "model-signing.pub",
                    "--data-dir", "\(node)-data", "--simulator", content.root.path,
                    "--region", "highway", "--seed", "\(index + 1)",
                    "--variations", "2", "--max-captures", "1", "--anchor-episodes", "0", "--poll-wait", "5", "--speedup", "10",
                    "--log-level", "info",
                ],
                directory: directory, logFile: directory.appendingPathComponent("\(node).log"))
            add(process)
            nodes[node] = process
        }

        // 4. Two rounds complete: version 3 is published, built on version 2, which is built on the seed.
        let published = try await eventually(
            "two rounds publish version \(FleetOnLoopbackTests.targetVersion)", stalledFor: FleetOnLoopbackTests.patience,
            // The coordinator's round moving on, or a node logging a step (its lessons log as they start and end).
            progress: { try await self.status(port).progress + ", node logs " + nodes.keys.sorted().map { "\(nodes[$0]!.log.count)" }.joined(separator: "/") }
        ) { () -> Status? in
            for process in nodes.values where !process.isRunning { throw EndToEndError("\(process.name) exited early") }
            let current = try await self.status(port)
            return current.currentVersion >= FleetOnLoopbackTests.targetVersion ? current : nil
        }
        #expect(published.currentVersion >= FleetOnLoopbackTests.targetVersion)
        #expect(published.nodesOnline == FleetOnLoopbackTests.nodes.count, "every node is alive by its heartbeats")
        milestone("version \(published.currentVersion) published")
        let versions = try await versionList(port)
        for number in 2...FleetOnLoopbackTests.targetVersion {
            let record = try #require(versions.first { $0.version == number }, "version \(number) is listed")
            #expect(record.status == "published")
            #expect(record.signature != nil, "version \(number) is signed")
            #expect(record.manifest.parent == number - 1, "version \(number) is built on version \(number - 1)")
            #expect(record.manifest.round != nil, "version \(number) names its round")
            #expect(!record.manifest.contributors.isEmpty, "version \(number) names its contributors")
            #expect(Set(record.manifest.contributors).isSubset(of: FleetOnLoopbackTests.nodes), "\(record.manifest.contributors)")
        }
        let rounds = Set(versions.filter { $0.version >= 2 }.compactMap(\.manifest.round))
        #expect(rounds.count >= 2, "two distinct rounds published: \(rounds.sorted())")

        // 5. Every node pulls the new version and keeps it only after checking its signature.
        let publicKey = try PublicKey(pem: String(contentsOfFile: path("model-signing.pub"), encoding: .utf8))
        for (node, process) in nodes.sorted(by: { $0.key < $1.key }) {
            let models = directory.appendingPathComponent("\(node)-data/models")
            let installed = try await eventually(
                "\(node) installs version \(FleetOnLoopbackTests.targetVersion)", stalledFor: FleetOnLoopbackTests.patience,
                progress: { process.log.count }
            ) { () -> UInt64? in
                guard process.isRunning else { throw EndToEndError("\(node) exited early") }
                let text = (try? String(contentsOf: models.appendingPathComponent("current"), encoding: .utf8)) ?? ""
                guard let version = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                      version >= FleetOnLoopbackTests.targetVersion else { return nil }
                return version
            }
            milestone("\(node) installed version \(installed)")
            // The node's stored files verify with the fleet's public key and match what the coordinator serves.
            let manifestBytes = try [UInt8](Data(contentsOf: models.appendingPathComponent("v\(installed).manifest.json")))
            let signature = try [UInt8](Data(contentsOf: models.appendingPathComponent("v\(installed).signature")))
            let checkpoint = try [UInt8](Data(contentsOf: models.appendingPathComponent("v\(installed).safetensors")))
            #expect(ModelSignature.isValid(signature, of: manifestBytes, with: publicKey), "\(node): the signature of version \(installed)")
            let manifest = try ModelManifest.decode(manifestBytes)
            #expect(manifest.version == installed)
            let digest = SHA256Digest()
            digest.update(checkpoint)
            #expect("sha256:" + digest.finalizeHex() == manifest.contentHash, "\(node): the checkpoint's hash")
            let served = try await servedManifest(port, version: installed)
            #expect(served.manifest == manifestBytes, "\(node) holds the manifest the coordinator signed")
            #expect(served.signature == signature)
            // The node said so in its log.
            #expect(process.log.split(separator: "\n").contains { $0.contains("model installed") && $0.contains("version=\(installed)") },
                    "\(node) logs the installation of version \(installed)")
        }

        // 6. A node that trusts another signing key refuses the coordinator's model and never drives it.
        let misconfigured = FleetOnLoopbackTests.misconfigured
        let outsider = try FleetProcess(
            name: misconfigured, executable: nodeExecutable,
            arguments: [
                "--coordinator", "https://127.0.0.1:\(port)",
                "--cert", "\(misconfigured).pem", "--key", "\(misconfigured).key", "--ca", "ca.pem",
                "--signing-key", "other-signing.pub", "--data-dir", "\(misconfigured)-data", "--simulator", content.root.path,
                "--poll-wait", "1", "--speedup", "10", "--log-level", "info",
            ],
            directory: directory, logFile: directory.appendingPathComponent("\(misconfigured).log"))
        add(outsider)
        _ = try await eventually("\(misconfigured) refuses the model", within: FleetOnLoopbackTests.patience) { () -> Bool? in
            guard outsider.isRunning else { throw EndToEndError("\(misconfigured) exited early") }
            return outsider.log.contains("model rejected") ? true : nil
        }
        #expect(await outsider.stop(SIGTERM) == 0, "\(misconfigured) stops gracefully: \(outsider.log.suffix(800))")
        let outsiderMetrics = Fleet.samples(
            try String(contentsOf: directory.appendingPathComponent("\(misconfigured)-data/metrics.prom"), encoding: .utf8))
        #expect((outsiderMetrics["fleet_node_models_rejected_total"] ?? 0) >= 1, "\(outsiderMetrics)")
        #expect((outsiderMetrics["fleet_node_models_installed_total"] ?? 0) == 0, "\(outsiderMetrics)")
        #expect(outsiderMetrics["fleet_node_transport_failures_total"] == 0, "a request cut short by shutdown is no transport failure")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(misconfigured)-data/models/current").path),
                "\(misconfigured) stored no model")
        milestone("\(misconfigured) refused the model signed with another key")

        // 7. SIGTERM: every process stops gracefully (exit 0); each node's spool is left readable and complete.
        for (node, process) in nodes.sorted(by: { $0.key < $1.key }) {
            let installed = try String(contentsOf: directory.appendingPathComponent("\(node)-data/models/current"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let status = await process.stop(SIGTERM)
            #expect(status == 0, "\(node) stops gracefully on SIGTERM: \(process.log.suffix(800))")
            // The metrics file is written one last time at shutdown: the version it drove, no model refused.
            let metrics = Fleet.samples(try String(contentsOf: directory.appendingPathComponent("\(node)-data/metrics.prom"), encoding: .utf8))
            #expect(metrics["fleet_node_model_version"].map { String(Int($0)) } == installed, "\(node): \(metrics)")
            #expect(metrics["fleet_node_models_rejected_total"] == 0, "\(node): every model it was sent verified")
            #expect(metrics["fleet_node_transport_failures_total"] == 0, "\(node): the coordinator was reachable throughout")
            #expect((metrics["fleet_node_models_installed_total"] ?? 0) >= 2, "\(node): the seed model and at least one published version")
            // Every freshness statement the coordinator signed was accepted; the floor is the version it drove.
            #expect((metrics["fleet_node_freshness_refused_total"] ?? 0) == 0, "\(node): \(metrics)")
            #expect(metrics["fleet_node_coordinator_stale"] == 0, "\(node): \(metrics)")
            #expect(metrics["fleet_node_version_floor"].map { String(Int($0)) } == installed, "\(node): \(metrics)")
            #expect(!process.log.contains("freshness statement refused"), "\(node): \(process.log.suffix(800))")
            let stopped = process.log.split(separator: "\n").last { $0.contains("edge node stopped") }
            let spoolCount = stopped.flatMap { line in
                line.split(separator: " ").first { $0.hasPrefix("spool=") }.flatMap { Int($0.dropFirst("spool=".count)) }
            }
            #expect(spoolCount != nil, "\(node) logs its spool at shutdown")
            let spool = try CaptureSpool<Capture>(directory: directory.appendingPathComponent("\(node)-data/spool"))
            let contents = spool.readAll()
            #expect(contents.skipped.isEmpty, "\(node): no damaged capture: \(contents.skipped.map(\.reason))")
            #expect(contents.records.count == spoolCount, "\(node): the spool holds what the node left in it")
        }
        let status = await coordinator.stop(SIGTERM)
        #expect(status == 0, "the coordinator stops gracefully on SIGTERM: \(coordinator.log.suffix(800))")
        milestone("every process stopped")
    }
}
