public import HummingbirdCore
public import Logging
public import NIOCore

/// A Hummingbird server child channel that runs our OpenSSL ``TLSHandler`` in
/// front of another child channel (normally `HTTP1Channel`).
///
/// Why: Hummingbird's own TLS channel brings swift-nio-ssl and BoringSSL; the
/// fleet uses the system OpenSSL. The handler is added first in `setup`, the
/// base channel's handlers after it. While the base channel handles the
/// connection, ``NodeIdentity/current`` holds the verified client's identity,
/// so routes (and request context initializers) read it without touching the
/// pipeline.
///
/// Connection limits: every accepted connection is first put to the
/// ``ConnectionAdmission`` (``ConnectionLimits``). One past a cap is closed
/// right there — before its pipeline, TLS handler or base channel exist — and
/// its setup fails, so Hummingbird never sees it. An admitted connection gets
/// a small handler in front that reports its first bytes, the TLS handler
/// closes it if the handshake does not complete within the limit, and the
/// admission counts it out when it closes.
public struct MutualTLSChannel<BaseChannel: ServerChildChannel>: ServerChildChannel {
    /// The base channel's value plus the handshake's outcome.
    public struct Value: ServerChildChannelValue {
        /// What the base channel set up.
        public let base: BaseChannel.Value
        /// Completes with the connection facts when the handshake succeeds.
        public let handshake: EventLoopFuture<TLSConnectionInfo>

        public var channel: any Channel { base.channel }
    }

    @usableFromInline let baseChannel: BaseChannel
    @usableFromInline let context: TLSContext
    /// Shared by every connection of the server this channel sets up.
    public let admission: ConnectionAdmission

    /// Wraps `baseChannel` with TLS set up by `context` (a server context).
    /// - Parameters:
    ///   - limits: Connection caps and the handshake timeout (the fleet's defaults if not given).
    ///   - observer: Told of every connection event (for metrics).
    /// - Throws: ``TLSError/Code/invalidConfiguration`` for a client context or invalid limits.
    public init(
        _ baseChannel: BaseChannel, context: TLSContext, limits: ConnectionLimits = .init(),
        observer: (@Sendable (ConnectionAdmission.Event) -> Void)? = nil
    ) throws(TLSError) {
        guard context.configuration.role == .server else {
            throw TLSError(.invalidConfiguration, "role: a server channel needs a server TLS configuration")
        }
        self.baseChannel = baseChannel
        self.context = context
        self.admission = try ConnectionAdmission(limits: limits, observer: observer)
    }

    /// Admits the connection (or closes it at once), then adds the TLS handler and the base channel's handlers.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard let ticket = admission.admit(channel) else {
            return channel.eventLoop.makeFailedFuture(
                TLSError(.connectionLimitReached, "a connection limit was reached; the connection was closed")
            )
        }
        let handshake = channel.eventLoop.makePromise(of: TLSConnectionInfo.self)
        handshake.futureResult.whenSuccess { _ in ticket.authenticated() }
        let context = self.context
        let timeout = admission.limits.handshakeTimeout
        return channel.eventLoop.makeCompletedFuture {
            let handler = try TLSHandler(context: context, handshakePromise: handshake, handshakeTimeout: timeout)
            try channel.pipeline.syncOperations.addHandler(ConnectionAdmissionHandler(ticket: ticket))
            try channel.pipeline.syncOperations.addHandler(handler)
        }.flatMapError { error in
            handshake.fail(error)
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }.flatMap {
            baseChannel.setup(channel: channel, logger: logger)
        }.map { base in
            Value(base: base, handshake: handshake.futureResult)
        }
    }

    /// Waits for the handshake, then lets the base channel handle the connection
    /// with ``NodeIdentity/current`` set to the client's identity.
    public func handle(value: Value, logger: Logger) async {
        let identity: NodeIdentity?
        do {
            identity = try await value.handshake.get().peerIdentity
        } catch {
            logger.debug("TLS handshake failed", metadata: ["error": "\(error)"])
            identity = nil
        }
        await NodeIdentity.$current.withValue(identity) {
            await baseChannel.handle(value: value.base, logger: logger)
        }
    }
}

extension MutualTLSChannel: HTTPChannelHandler where BaseChannel: HTTPChannelHandler {
    public var responder: HTTPChannelHandler.Responder { baseChannel.responder }
}
