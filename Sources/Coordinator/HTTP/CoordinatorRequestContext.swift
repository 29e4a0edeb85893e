public import Hummingbird
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

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = NodeIdentity.current
    }
}
