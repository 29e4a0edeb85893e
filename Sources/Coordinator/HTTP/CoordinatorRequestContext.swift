public import Hummingbird
public import NIOCore
public import SecureTransport

/// The request context of the coordinator's routes: Hummingbird's core
/// storage plus the verified client of the connection.
///
/// The identity is read once, when the request starts, from
/// ``NodeIdentity/current`` — the task-local ``MutualTLSChannel`` sets from
/// the certificate the handshake verified. Nothing the client writes in HTTP
/// can change it.
public struct CoordinatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The node (or operator) the client certificate names; nil without one.
    public let identity: NodeIdentity?
    /// The connection's event loop, where request deadlines are scheduled.
    public let eventLoop: any EventLoop

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = NodeIdentity.current
        eventLoop = source.channel.eventLoop
    }
}
