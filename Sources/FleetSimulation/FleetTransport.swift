import Coordinator
import EdgeNode
import Logging
import NIOCore
import SecureTransport
import ServiceLifecycle

/// How a simulation's nodes reach its coordinator: over mutual TLS on
/// 127.0.0.1, through the coordinator's real HTTPS server with an ephemeral
/// CA, or by calls in the process (for fleets of thousands).
enum FleetTransport {
    /// Runs `body` with one connection per node in `nodes` (same order), then
    /// closes them and stops the server.
    static func withConnections<T: Sendable>(
        _ kind: FleetSimulationConfiguration.Transport, service: CoordinatorService, nodes: [String],
        body: @Sendable ([any CoordinatorConnection]) async throws -> T
    ) async throws -> T {
        switch kind {
        case .inMemory:
            return try await body(nodes.map { InProcessConnection(node: $0, service: service) })
        case .tls:
            return try await overTLS(service: service, nodes: nodes, body: body)
        }
    }

    /// How the simulated nodes reach the coordinator on `port` of 127.0.0.1.
    ///
    /// Why longer time bounds than a node's defaults: those are for a remote
    /// coordinator on a bad network, after which a real node backs off and
    /// tries again. Here the coordinator runs in this process and shares its
    /// cores (and, in tests, its threads) with every node's driving and
    /// learning, so an answer can wait a long time for a free thread without
    /// anything being wrong; and the simulation, in lock step, has no later
    /// attempt to fall back on. The bounds still end a run that hangs. The
    /// server's bound on reading a body is raised alike.
    static func connectionConfiguration(port: Int) -> ConnectionConfiguration {
        ConnectionConfiguration(host: "127.0.0.1", port: port, connectTimeout: .minutes(5), requestTimeout: .minutes(10))
    }

    /// An ephemeral CA issues the server's certificate and one per node; the
    /// coordinator's HTTPS server listens on a port of its choosing on
    /// 127.0.0.1 and is stopped gracefully when `body` returns.
    private static func overTLS<T: Sendable>(
        service: CoordinatorService, nodes: [String], body: @Sendable ([any CoordinatorConnection]) async throws -> T
    ) async throws -> T {
        let authority = try FleetCertificateAuthority.create(commonName: "Fleet simulation CA")
        let server = try authority.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        var logger = Logger(label: "fleet.sim.https")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let application = try CoordinatorHTTPServer.application(
            service: service,
            configuration: .init(
                host: "127.0.0.1", port: 0,
                tls: .server(certificateChain: [server.certificate], privateKey: server.privateKey, trustRoots: [authority.certificate]),
                bodyTimeout: 600),
            metricsRegistry: nil, logger: logger,
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) })
        // The service's own timer loop is not run: the simulation ticks it.
        let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                await services.triggerGracefulShutdown()
                throw SimulationError("the coordinator's HTTPS server did not start")
            }
            let connections: [any CoordinatorConnection]
            let outcome: Result<T, any Error>
            do {
                connections = try nodes.map { node in
                    let issued = try authority.issueNodeCertificate(nodeID: node)
                    let tls = try TLSContext(configuration: .client(
                        trustRoots: [authority.certificate], certificateChain: [issued.certificate], privateKey: issued.privateKey))
                    return try HTTPSCoordinatorConnection(configuration: connectionConfiguration(port: port), tls: tls)
                }
                outcome = .success(try await body(connections))
                for connection in connections { await connection.close() }
            } catch {
                outcome = .failure(error)
            }
            // Stopped by a graceful shutdown, not by cancellation (NIO traps on
            // cancelling a server with a connection still queued).
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return try outcome.get()
        }
    }
}
