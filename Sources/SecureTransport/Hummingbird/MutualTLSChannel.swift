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

    /// Wraps `baseChannel` with TLS set up by `context` (a server context).
    public init(_ baseChannel: BaseChannel, context: TLSContext) throws(TLSError) {
        guard context.configuration.role == .server else {
            throw TLSError(.invalidConfiguration, "role: a server channel needs a server TLS configuration")
        }
        self.baseChannel = baseChannel
        self.context = context
    }

    /// Adds the TLS handler, then the base channel's handlers.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let handshake = channel.eventLoop.makePromise(of: TLSConnectionInfo.self)
        let context = self.context
        return channel.eventLoop.makeCompletedFuture {
            let handler = try TLSHandler(context: context, handshakePromise: handshake)
            try channel.pipeline.syncOperations.addHandler(handler)
        }.flatMapError { error in
            handshake.fail(error)
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
