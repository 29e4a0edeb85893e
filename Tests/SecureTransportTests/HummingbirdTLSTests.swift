import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Testing
@testable import SecureTransport

/// A request context that carries the connection's node identity to every route.
struct FleetTestRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The verified client's identity, read once when the request starts.
    let node: NodeIdentity?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        node = NodeIdentity.current
    }
}

extension NetworkTests {
/// Hummingbird served through our OpenSSL handler, reached with curl.
@Suite("Hummingbird over mutual TLS")
struct HummingbirdTLSTests {
    let pki = TestPKI.shared

    /// Runs an application with a `/whoami` route, calls `body` with its port, then stops it.
    func withApplication(_ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Router(context: FleetTestRequestContext.self)
        router.get("whoami") { _, context in
            "node=\(context.node?.nodeID ?? "none") task-local=\(NodeIdentity.current?.nodeID ?? "none")\n"
        }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "test")
        // Cancelling the task group at the end logs the cancelled connection wait; that is expected here.
        logger.logLevel = .critical
        let app = Application(
            router: router,
            server: try .http1(tls: pki.serverConfiguration()),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress!.port!) },
            logger: logger
        )
        // Stopped by a graceful shutdown, not by cancellation: cancelling a
        // server with an accepted connection still queued traps in NIO.
        let services = ServiceGroup(configuration: .init(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            do { try await body(port) } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    @Test("curl --cert --key --cacert reaches a route that reads the node id")
    func curlWithClientCertificate() async throws {
        guard let curl = ExternalTool.find("curl") else {
            print("skipped: the curl binary is not installed"); return
        }
        let pki = self.pki
        try await withApplication { port in
            let output = try await ExternalTool.run(curl, [
                "-sS", "--resolve", "localhost:\(port):127.0.0.1",
                "--cert", pki.path("node.pem"), "--key", pki.path("node.key"), "--cacert", pki.path("ca.pem"),
                "https://localhost:\(port)/whoami",
            ])
            #expect(output.status == 0, "\(output.all)")
            #expect(output.stdout == "node=car-7 task-local=car-7\n", "\(output.all)")

            let refused = try await ExternalTool.run(curl, [
                "-sS", "--resolve", "localhost:\(port):127.0.0.1", "--cacert", pki.path("ca.pem"),
                "https://localhost:\(port)/whoami",
            ])
            #expect(refused.status != 0)
            #expect(!refused.stdout.contains("node="))

            let plain = try await ExternalTool.run(curl, ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/whoami"])
            #expect(plain.status != 0)

            let again = try await ExternalTool.run(curl, [
                "-sS", "--resolve", "localhost:\(port):127.0.0.1",
                "--cert", pki.path("node.pem"), "--key", pki.path("node.key"), "--cacert", pki.path("ca.pem"),
                "https://localhost:\(port)/whoami", "https://localhost:\(port)/whoami",
            ])
            #expect(again.stdout == String(repeating: "node=car-7 task-local=car-7\n", count: 2), "\(again.all)")
        }
    }
}
}
