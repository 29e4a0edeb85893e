public import Hummingbird
import HummingbirdCore
public import Logging
public import NIOCore
public import Prometheus
public import SecureTransport

/// Serves a ``CoordinatorService`` over HTTPS with mutual TLS.
///
/// Why a separate type: the service is usable in-process (the fleet
/// simulation drives it directly); this only adds the wire — Hummingbird's
/// router behind ``MutualTLSChannel`` (the fleet's OpenSSL TLS 1.3, client
/// certificates required), JSON errors, the per-request revocation check,
/// and `/metrics` from a Prometheus registry.
public enum CoordinatorHTTPServer {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port (reported through `onServerRunning`).
        public var port: Int
        /// The server's certificate and key and the fleet CA (clients must present a fleet node certificate).
        public var tls: TLSConfiguration
        /// Revoked serials, checked on every request (403).
        public var revocationList: RevocationList?
        /// Seconds an idle connection is kept.
        public var idleTimeout: Double
        /// Seconds a client may take to send a request body.
        public var bodyTimeout: Double
        /// Largest JSON request body.
        public var maxJSONBytes: Int
        /// Caps on open and not-yet-authenticated connections (in total and per
        /// source address) and the TLS handshake timeout; see ``ConnectionLimits``
        /// for the defaults and why. Per-address caps apply to unauthenticated
        /// connections only, so many nodes behind one address still connect.
        public var connectionLimits: ConnectionLimits
        /// Connections the kernel may queue before the server accepts them (`listen(2)`'s backlog).
        ///
        /// Why 1,024 and not Hummingbird's 256: when the queue is full the kernel
        /// drops the SYN and the client retries only after a second (then 3, 7 s…),
        /// so a short pause of the accept loop under a connection flood would cost
        /// every node connecting then a second or more. Linux caps it at
        /// `net.core.somaxconn` (4,096 by default).
        public var listenBacklog: Int

        public init(
            host: String = "127.0.0.1", port: Int = 8443, tls: TLSConfiguration, revocationList: RevocationList? = nil,
            idleTimeout: Double = 120, bodyTimeout: Double = 60, maxJSONBytes: Int = 64 << 10,
            connectionLimits: ConnectionLimits = .init(), listenBacklog: Int = 1_024
        ) {
            self.host = host
            self.port = port
            self.tls = tls
            self.revocationList = revocationList
            self.idleTimeout = idleTimeout
            self.bodyTimeout = bodyTimeout
            self.maxJSONBytes = maxJSONBytes
            self.connectionLimits = connectionLimits
            self.listenBacklog = listenBacklog
        }

        /// Throws ``TLSError/Code/invalidConfiguration`` naming the first field out of range.
        public func validate() throws(TLSError) {
            if !(port >= 0 && port <= 65_535) {
                throw TLSError(.invalidConfiguration, "port \(port) is not a TCP port (0–65535)")
            }
            for (name, value) in [("idleTimeout", idleTimeout), ("bodyTimeout", bodyTimeout)] where !(value > 0 && value <= 1e6) {
                throw TLSError(.invalidConfiguration, "\(name) must be a positive number of seconds up to 10⁶ (it is \(value))")
            }
            if listenBacklog < 1 {
                throw TLSError(.invalidConfiguration, "listenBacklog must be at least 1 (it is \(listenBacklog))")
            }
            if maxJSONBytes < 1 {
                throw TLSError(.invalidConfiguration, "maxJSONBytes must be at least 1 (it is \(maxJSONBytes))")
            }
            try connectionLimits.validate()
        }
    }

    /// The router with every API route, for tests that call it without a socket.
    public static func router(
        service: CoordinatorService, revocationList: RevocationList?, metricsRegistry: PrometheusCollectorRegistry?,
        bodyTimeout: Double = 60, maxJSONBytes: Int = 64 << 10
    ) -> Router<CoordinatorRequestContext> {
        let router = Router(context: CoordinatorRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(service: service))
        router.add(middleware: AuthenticationMiddleware(revocationList: revocationList))
        CoordinatorRoutes.install(
            on: router, service: service, metricsRegistry: metricsRegistry,
            limits: .init(maxJSONBytes: maxJSONBytes, bodyTimeout: bodyTimeout)
        )
        return router
    }

    /// The HTTPS application; run it (with the service) under a `ServiceGroup`.
    ///
    /// - Throws: ``TLSError`` when the TLS configuration is not a valid server
    ///   configuration or a field of `configuration` is out of range (the message names it).
    public static func application(
        service: CoordinatorService,
        configuration: Configuration,
        metricsRegistry: PrometheusCollectorRegistry?,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws(TLSError) -> some ApplicationProtocol {
        try configuration.validate()
        var tls = configuration.tls
        // Revocation is answered per request with a readable 403 (see AuthenticationMiddleware).
        tls.revocationList = nil
        let router = router(
            service: service, revocationList: configuration.revocationList, metricsRegistry: metricsRegistry,
            bodyTimeout: configuration.bodyTimeout, maxJSONBytes: configuration.maxJSONBytes
        )
        let server = try HTTPServerBuilder.http1(
            tls: tls,
            http1: .init(
                additionalChannelHandlers: [ParseErrorResponder()],
                idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1_000))),
            limits: configuration.connectionLimits,
            observer: metricsRegistry.map { ConnectionMetrics.observer(registry: $0) }
        )
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "fleet-coordinator",
                backlog: configuration.listenBacklog
            ),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}
