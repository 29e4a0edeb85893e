import ArgumentParser

/// `fleet-coordinator`: serves the fleet, manages its certificates and versions.
///
/// Thin on purpose: subcommands parse flags (and environment), bootstrap
/// logging and metrics once, and call the Coordinator library.
@main
struct FleetCoordinator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-coordinator",
        abstract: "The Fleet Learning coordinator: HTTPS API with mutual TLS, rounds, aggregation, regression gate, signed versions.",
        discussion: """
            First set-up, in the coordinator's directory:
              fleet-coordinator certs create-ca
              fleet-coordinator certs issue-server --ip 127.0.0.1 --dns coordinator.local
              fleet-coordinator certs create-signing-key
              fleet-coordinator certs issue-node --node car-7      # one per node
            Then: fleet-coordinator serve   (or just fleet-coordinator)
            """,
        subcommands: [Serve.self, CertsCommand.self, Approve.self, Versions.self],
        defaultSubcommand: Serve.self
    )
}
