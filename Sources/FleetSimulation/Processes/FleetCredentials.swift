import Foundation

/// The keys of a process fleet, made by `fleet-coordinator certs` in its
/// directory, as the README tells an operator to: an ephemeral fleet CA, the
/// coordinator's server certificate for 127.0.0.1, the model-signing key, and
/// one client certificate per node.
///
/// Why the subcommands rather than the library: the run then exercises the
/// very files and flags an operator uses, and the processes read them under
/// their default names from their working directory.
struct FleetCredentials: Sendable {
    /// Where the files are (the processes' working directory).
    let directory: URL

    static let caCertificate = "ca.pem"
    static let signingPublicKey = "model-signing.pub"

    static func certificate(of node: String) -> String { node + ".pem" }
    static func key(of node: String) -> String { node + ".key" }

    /// Makes every file, one `certs` subcommand after the other; their output goes to `certs.log`.
    static func make(
        in directory: URL, clients: [String], coordinator executable: URL
    ) async throws(SimulationError) -> FleetCredentials {
        let steps: [[String]] = [["create-ca", "--name", "Fleet simulation CA"], ["issue-server", "--ip", "127.0.0.1"], ["create-signing-key"]]
            + clients.map { ["issue-node", "--node", $0] }
        let log = directory.appendingPathComponent("certs.log")
        for step in steps {
            let command = try ChildProcess(
                name: "certs \(step[0])", executable: executable, arguments: ["certs"] + step, directory: directory, logFile: log)
            let ended = await command.waitForExit()
            guard let ended, ended.status == 0, !ended.bySignal else {
                throw SimulationError(
                    .certificates,
                    "`fleet-coordinator certs \(step.joined(separator: " "))` failed (\(ended.map { "status \($0.status)" } ?? "no status")):\n\(command.logTail(6))",
                    context: ["log": log.path])
            }
        }
        return FleetCredentials(directory: directory)
    }
}
