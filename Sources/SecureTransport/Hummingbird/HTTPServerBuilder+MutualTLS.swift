public import HummingbirdCore

extension HTTPServerBuilder {
    /// An HTTP/1.1 server behind the fleet's OpenSSL TLS (mutual TLS by default).
    ///
    /// ```swift
    /// let app = Application(router: router, server: try .http1(tls: serverConfiguration))
    /// ```
    /// - Parameters:
    ///   - configuration: A server ``TLSConfiguration``.
    ///   - http1: The HTTP/1 channel configuration.
    ///   - limits: Connection caps and the handshake timeout (see ``ConnectionLimits``).
    ///   - observer: Told of every connection event (for metrics).
    /// - Throws: ``TLSError`` when the configuration or the limits are invalid.
    public static func http1(
        tls configuration: TLSConfiguration,
        http1: HTTP1Channel.Configuration = .init(),
        limits: ConnectionLimits = .init(),
        observer: (@Sendable (ConnectionAdmission.Event) -> Void)? = nil
    ) throws(TLSError) -> HTTPServerBuilder {
        try HTTPServerBuilder.http1(
            tls: TLSContext(configuration: configuration), http1: http1, limits: limits, observer: observer
        )
    }

    /// An HTTP/1.1 server behind an already built server ``TLSContext``.
    public static func http1(
        tls context: TLSContext,
        http1: HTTP1Channel.Configuration = .init(),
        limits: ConnectionLimits = .init(),
        observer: (@Sendable (ConnectionAdmission.Event) -> Void)? = nil
    ) throws(TLSError) -> HTTPServerBuilder {
        guard context.configuration.role == .server else {
            throw TLSError(.invalidConfiguration, "role: a server channel needs a server TLS configuration")
        }
        try limits.validate()
        return HTTPServerBuilder { responder in
            try MutualTLSChannel(
                HTTP1Channel(responder: responder, configuration: http1), context: context, limits: limits, observer: observer
            )
        }
    }
}
