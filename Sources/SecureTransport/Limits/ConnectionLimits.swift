public import NIOCore

/// How many connections a TLS server keeps open, in total and per source
/// address, before and after the handshake, and how long a handshake may take.
///
/// Why these caps: a connection that has not finished its TLS handshake is
/// nobody yet — anyone who can reach the port can open thousands and hold
/// them (an adversarial test held 20,000 idle connections from one address
/// for 120 s: the coordinator stopped answering for 25 s and grew from 48 MB
/// to 1.17 GB). Authenticated connections are fleet nodes with a valid,
/// revocable certificate, and many of them may share one address (a depot
/// or carrier NAT, or `fleet-sim` running 1,000 nodes on 127.0.0.1), so the
/// per-address caps apply to the *pending* (not yet authenticated)
/// connections only, unless ``maximumConnectionsPerAddress`` is set.
///
/// Past a cap a new connection is closed at once, before any TLS state is
/// allocated — unless the cap is held by connections that have not sent a
/// single byte: then the oldest such silent connection (of the same address
/// when a per-address cap is full) is closed to make room. A real client sends
/// its ClientHello right after connecting, so an idle flood cannot lock out a
/// client that speaks, even one behind the flooding address.
///
/// The defaults, and why:
/// - ``maximumConnections`` 4,096: a fleet of a few thousand nodes, each
///   holding one keep-alive connection, plus room for reconnects; the process
///   needs an open-file limit above it (`fleet-coordinator serve` raises its
///   soft limit to the hard limit and warns when that is too low).
/// - ``maximumPendingHandshakes`` 1,024: a server TLS 1.3 handshake with a
///   client certificate costs about a millisecond of CPU, so 1,024 in flight
///   is already a second of queued work on two cores — more than any
///   legitimate reconnect wave needs (nodes back off with jitter).
/// - ``maximumPendingHandshakesPerAddress`` 256: a quarter of the pending
///   pool, so at least four addresses are needed to fill it; 256 handshakes
///   in flight at once from one address is far beyond what nodes behind one
///   NAT need (each handshakes for milliseconds, then holds an authenticated
///   connection that no longer counts here). A burst of more simultaneous
///   handshakes than this from one address (1,000 nodes behind one NAT all
///   reconnecting in the same instant) has the excess closed; nodes retry
///   with backoff, and such a set-up should raise the cap.
/// - ``handshakeTimeout`` 10 s: a handshake takes milliseconds on a fleet's
///   links and well under a second on a loaded machine; 10 s leaves room for
///   slow mobile links while an idle connection is gone 12× sooner than the
///   HTTP idle timeout (120 s) that held them before.
public struct ConnectionLimits: Sendable, Equatable {
    /// The most connections open at once, authenticated or not.
    public var maximumConnections: Int
    /// The most connections open at once from one source address (nil: no such cap).
    ///
    /// Off by default: nodes behind one NAT share an address, and an
    /// authenticated connection is a node with a valid certificate.
    public var maximumConnectionsPerAddress: Int?
    /// The most connections whose TLS handshake has not completed, in total.
    public var maximumPendingHandshakes: Int
    /// The most connections whose TLS handshake has not completed, per source
    /// address (IPv4 address, or IPv6 /64 prefix).
    public var maximumPendingHandshakesPerAddress: Int
    /// How long a connection may take from accept to a completed handshake.
    public var handshakeTimeout: TimeAmount

    /// The fleet's defaults (see the type's documentation for why).
    public init(
        maximumConnections: Int = 4_096,
        maximumConnectionsPerAddress: Int? = nil,
        maximumPendingHandshakes: Int = 1_024,
        maximumPendingHandshakesPerAddress: Int = 256,
        handshakeTimeout: TimeAmount = .seconds(10)
    ) {
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.maximumPendingHandshakes = maximumPendingHandshakes
        self.maximumPendingHandshakesPerAddress = maximumPendingHandshakesPerAddress
        self.handshakeTimeout = handshakeTimeout
    }

    /// A field of the limits, named as in Swift (command-line tools map it to their flag).
    public enum Field: String, Sendable, CaseIterable {
        case maximumConnections
        case maximumConnectionsPerAddress
        case maximumPendingHandshakes
        case maximumPendingHandshakesPerAddress
        case handshakeTimeout
    }

    /// The first field that is out of range and why, or nil when all are valid.
    public var problem: (field: Field, reason: String)? {
        if maximumConnections < 1 {
            return (.maximumConnections, "must be at least 1 (it is \(maximumConnections))")
        }
        if let perAddress = maximumConnectionsPerAddress, perAddress < 1 {
            return (.maximumConnectionsPerAddress, "must be at least 1 when set (it is \(perAddress))")
        }
        if maximumPendingHandshakes < 1 {
            return (.maximumPendingHandshakes, "must be at least 1 (it is \(maximumPendingHandshakes))")
        }
        if maximumPendingHandshakes > maximumConnections {
            return (
                .maximumPendingHandshakes,
                "(\(maximumPendingHandshakes)) must not exceed maximumConnections (\(maximumConnections)): every pending handshake is an open connection"
            )
        }
        if maximumPendingHandshakesPerAddress < 1 {
            return (.maximumPendingHandshakesPerAddress, "must be at least 1 (it is \(maximumPendingHandshakesPerAddress))")
        }
        if maximumPendingHandshakesPerAddress > maximumPendingHandshakes {
            return (
                .maximumPendingHandshakesPerAddress,
                "(\(maximumPendingHandshakesPerAddress)) must not exceed maximumPendingHandshakes (\(maximumPendingHandshakes))"
            )
        }
        if handshakeTimeout <= .zero {
            return (.handshakeTimeout, "must be positive (it is \(handshakeTimeout))")
        }
        return nil
    }

    /// Throws ``TLSError/Code/invalidConfiguration`` naming the first bad field.
    public func validate() throws(TLSError) {
        if let (field, reason) = problem {
            throw TLSError(.invalidConfiguration, "connectionLimits.\(field.rawValue) \(reason)")
        }
    }
}
