import ArgumentParser
import Coordinator
import FleetWire
import Foundation
import SecureTransport

/// Where the coordinator's state is, for the offline subcommands.
struct StateOptions: ParsableArguments {
    @Option(help: "The coordinator's data directory. [env FLEET_COORDINATOR_DATA_DIR]") var dataDir: String?

    func registry(signingKey: String?) throws -> ModelRegistry {
        let env = Environment()
        let directory = URL(fileURLWithPath: dataDir ?? env["DATA_DIR"] ?? "coordinator-data")
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("state.sqlite").path) else {
            throw ValidationError("no coordinator state in \(directory.path); pass --data-dir")
        }
        let store = try CoordinatorStore(path: directory.appendingPathComponent("state.sqlite").path)
        let blobs = try BlobStore(directory: directory.appendingPathComponent("blobs"))
        let key = try signingKey.map { try PrivateKey(pemFile: $0) } ?? PrivateKey(generating: .ed25519)
        return ModelRegistry(store: store, blobs: blobs, signingKey: key)
    }
}

/// `fleet-coordinator approve VERSION`: an operator signs off a candidate.
struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve a candidate that passed the gate (manual approval mode): sign and publish it.",
        discussion: "Works on the data directory; a running coordinator serves the approved version within one tick."
    )
    @Argument(help: "The version to approve.") var version: UInt64
    @OptionGroup var state: StateOptions
    @Option(help: "The Ed25519 model-signing key. [env FLEET_COORDINATOR_SIGNING_KEY]") var signingKey: String?

    func run() throws {
        let keyPath = signingKey ?? Environment()["SIGNING_KEY"] ?? "model-signing.key"
        let registry = try state.registry(signingKey: keyPath)
        let approved = try registry.approve(version)
        let who = ProcessInfo.processInfo.environment["USER"] ?? "operator"
        try registry.store.audit("approve", subject: "\(version)", detail: "approved by \(who) on the command line", at: Date().timeIntervalSince1970)
        print("version \(approved.number) approved and published (round \(approved.manifest.round.map(String.init) ?? "–"))")
    }
}

/// `fleet-coordinator versions`: why each version exists.
struct Versions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every version and candidate, newest first, with the gate's verdict and reasons.")
    @OptionGroup var state: StateOptions

    func run() throws {
        let registry = try state.registry(signingKey: nil)
        print("version  status             round  updates  gold score     why")
        for version in try registry.all() {
            let manifest = version.manifest
            let score = manifest.gate.map { String(format: "%5.1f → %5.1f", $0.currentScore, $0.candidateScore) } ?? "      –      "
            let why = manifest.gate.map { $0.reasons.isEmpty ? "no family regressed" : $0.reasons.joined(separator: "; ") } ?? (manifest.notes ?? "")
            print(
                String(version.number).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + version.status.rawValue.padding(toLength: 19, withPad: " ", startingAt: 0)
                    + (manifest.round.map(String.init) ?? "–").padding(toLength: 7, withPad: " ", startingAt: 0)
                    + String(manifest.contributors.count).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + score + "  " + why
            )
        }
    }
}
