import ArgumentParser

/// `fleet-coordinator`: serves the fleet, manages its certificates and versions.
@main
struct FleetCoordinator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-coordinator",
        abstract: "The Fleet Learning coordinator: HTTPS API with mutual TLS, rounds, aggregation, regression gate, signed versions.",
        subcommands: [CertsCommand.self]
    )
}
