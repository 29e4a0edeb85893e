import Foundation
import Testing
import Coordinator
import FleetWire
import PolicyNetwork
import SecureTransport

/// The `fleet-coordinator` executable's offline subcommands.
@Suite("fleet-coordinator command line")
struct CommandLineTests {
    @Test("certs creates a CA, server and node certificates, the signing key, and revokes")
    func certs() async throws {
        guard let executable = CoordinatorProcess.executable() else {
            print("skipped: the fleet-coordinator executable was not found beside the test bundle (run `swift build` first)"); return
        }
        let directory = Fixture.temporaryDirectory("certs")
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(_ arguments: [String]) async throws -> ExternalTool.Output {
            try await ExternalTool.run(executable, arguments)
        }
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

        let steps: [[String]] = [
            ["certs", "create-ca", "--ca-cert", file("ca.pem"), "--ca-key", file("ca.key")],
            ["certs", "issue-server", "--ca-cert", file("ca.pem"), "--ca-key", file("ca.key"), "--ip", "127.0.0.1", "--cert", file("server.pem"), "--key", file("server.key")],
            ["certs", "issue-node", "--ca-cert", file("ca.pem"), "--ca-key", file("ca.key"), "--node", "car-7", "--cert", file("car-7.pem"), "--key", file("car-7.key")],
            ["certs", "create-signing-key", "--key", file("model-signing.key"), "--public-key", file("model-signing.pub")],
            ["certs", "revoke", "--cert", file("car-7.pem"), "--list", file("revoked.txt")],
        ]
        for step in steps {
            let output = try await run(step)
            #expect(output.status == 0, "\(step[1]): \(output.stderr)")
        }
        let node = try Certificate(pemFile: file("car-7.pem"))
        #expect(node.nodeID == "car-7")
        #expect(RevocationList(path: file("revoked.txt")).isRevoked(serialHex: node.serialNumberHex))
        let signing = try PrivateKey(pemFile: file("model-signing.key"))
        #expect(signing.algorithm == .ed25519)
        #expect(try PublicKey(pem: String(contentsOfFile: file("model-signing.pub"), encoding: .utf8)).pem == signing.publicKey.pem)
        for key in ["ca.key", "server.key", "car-7.key", "model-signing.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: file(key))[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key) is readable by others")
        }
        // The signing key is never overwritten by accident.
        let again = try await run(["certs", "create-signing-key", "--key", file("model-signing.key"), "--public-key", file("model-signing.pub")])
        #expect(again.status != 0 && again.stderr.contains("--force"))

        for help in [["--help"], ["serve", "--help"], ["certs", "--help"], ["approve", "--help"], ["versions", "--help"]] {
            let output = try await run(help)
            #expect(output.status == 0 && output.stdout.contains("USAGE"), "\(help)")
        }
    }

    @Test("versions lists why each version exists; approve signs and publishes a waiting candidate")
    func versionsAndApprove() async throws {
        guard let executable = CoordinatorProcess.executable() else {
            print("skipped: the fleet-coordinator executable was not found beside the test bundle (run `swift build` first)"); return
        }
        let directory = Fixture.temporaryDirectory("approve-cli")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("model-signing.key").path
        try Fixture.signingKey.write(toFile: keyFile)
        let store = try CoordinatorStore(path: directory.appendingPathComponent("state.sqlite").path)
        let registry = ModelRegistry(store: store, blobs: try BlobStore(directory: directory.appendingPathComponent("blobs")), signingKey: Fixture.signingKey)
        _ = try registry.record(Fixture.basePolicy, status: .published, parent: nil, round: nil, createdAt: "2026-11-25T00:00:00Z", at: 0, notes: "seed model")
        let gate = GateSummary(verdict: "awaiting_approval", suite: "gold", currentScore: 90, candidateScore: 91, families: [], reasons: [])
        _ = try registry.record(Fixture.basePolicy, status: .awaitingApproval, parent: 1, round: 1, createdAt: "2026-11-25T00:01:00Z", at: 1, contributors: ["car-1"], gate: gate)

        let listed = try await ExternalTool.run(executable, ["versions", "--data-dir", directory.path])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("awaiting_approval") && listed.stdout.contains("seed model"), "\(listed.stdout)")

        let approved = try await ExternalTool.run(executable, ["approve", "2", "--data-dir", directory.path, "--signing-key", keyFile])
        #expect(approved.status == 0, "\(approved.stderr)")
        let version = try #require(try registry.version(2))
        #expect(version.status == .published)
        #expect(ModelSignature.isValid(try #require(version.signature), of: version.manifestBytes, with: Fixture.signingKey.publicKey))
        let twice = try await ExternalTool.run(executable, ["approve", "2", "--data-dir", directory.path, "--signing-key", keyFile])
        #expect(twice.status != 0 && twice.stderr.contains("not awaiting approval"), "\(twice.stderr)")
    }
}
