import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Carries out ``ConnectionLimits`` on a server's accepted channels: one
/// shared ``ConnectionLimiter`` behind a lock, the channels that may be
/// evicted, and an observer for metrics.
///
/// Why a class: the server's child channels live on several event loops and
/// must share one count. Each decision is one short critical section; closing
/// channels happens outside it.
public final class ConnectionAdmission: Sendable {
    /// What happened to the server's connections, for gauges and counters.
    public enum Event: Sendable, Equatable {
        /// A connection was admitted (it is open and pending).
        case opened
        /// A pending connection completed its handshake.
        case authenticated
        /// A connection closed; `pending` when its handshake had not completed.
        case closed(pending: Bool)
        /// A new connection was closed at once; `cap` names the full cap
        /// (`connections`, `connections_per_address`, `pending_handshakes`,
        /// `pending_handshakes_per_address`).
        case refused(cap: String)
        /// A silent connection was closed to make room for a new one (also reported as `closed`).
        case evicted
    }

    /// The counts at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Connections open.
        public var open: Int
        /// Open connections whose handshake has not completed.
        public var pending: Int
        /// New connections refused since the start.
        public var refused: Int
        /// Silent connections closed to make room since the start.
        public var evicted: Int
    }

    /// One admitted connection, as the pipeline reports on it.
    struct Ticket: Sendable {
        let id: ConnectionLimiter.ID
        let admission: ConnectionAdmission

        func bytesReceived() { admission.bytesReceived(id) }
        func authenticated() { admission.authenticated(id) }
    }

    private struct State {
        var limiter: ConnectionLimiter
        /// Silent connections' channels, so that one can be closed to make room.
        var silentChannels: [ConnectionLimiter.ID: any Channel] = [:]
    }

    /// The limits in force.
    public let limits: ConnectionLimits
    private let state: Mutex<State>
    private let observer: (@Sendable (Event) -> Void)?

    /// - Parameters:
    ///   - limits: The caps; validated.
    ///   - observer: Called (outside the lock, on some event loop) for every event.
    /// - Throws: ``TLSError/Code/invalidConfiguration`` naming the bad field.
    public init(limits: ConnectionLimits, observer: (@Sendable (Event) -> Void)? = nil) throws(TLSError) {
        try limits.validate()
        self.limits = limits
        self.state = Mutex(State(limiter: ConnectionLimiter(limits: limits)))
        self.observer = observer
    }

    /// The counts now.
    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(
                open: state.limiter.open, pending: state.limiter.pending,
                refused: state.limiter.refusals.values.reduce(0, +), evicted: state.limiter.evictions
            )
        }
    }

    /// Admits an accepted `channel` or closes it at once.
    ///
    /// Call before anything is allocated for the connection. When a silent
    /// connection is evicted to make room, it is closed here.
    /// - Returns: The ticket, or nil when the channel was refused (and is closing).
    func admit(_ channel: any Channel) -> Ticket? {
        let address = Self.sourceKey(channel.remoteAddress)
        let (admission, victim) = state.withLock { state -> (ConnectionLimiter.Admission, (any Channel)?) in
            let admission = state.limiter.opened(from: address)
            guard case .admitted(let id, let evicting) = admission else { return (admission, nil) }
            state.silentChannels[id] = channel
            return (admission, evicting.flatMap { state.silentChannels.removeValue(forKey: $0) })
        }
        switch admission {
        case .refused(let cap):
            channel.close(promise: nil)
            observer?(.refused(cap: cap.rawValue))
            return nil
        case .admitted(let id, let evicting):
            if evicting != nil {
                victim?.close(promise: nil)
                observer?(.evicted)
                observer?(.closed(pending: true))
            }
            observer?(.opened)
            channel.closeFuture.whenComplete { _ in self.closed(id) }
            return Ticket(id: id, admission: self)
        }
    }

    private func bytesReceived(_ id: ConnectionLimiter.ID) {
        state.withLock { state in
            state.limiter.bytesReceived(id)
            state.silentChannels[id] = nil
        }
    }

    private func authenticated(_ id: ConnectionLimiter.ID) {
        let changed = state.withLock { state in
            let before = state.limiter.phase(of: id)
            state.limiter.authenticated(id)
            state.silentChannels[id] = nil
            return before != nil && before != .authenticated
        }
        if changed { observer?(.authenticated) }
    }

    private func closed(_ id: ConnectionLimiter.ID) {
        let before = state.withLock { state in
            let before = state.limiter.phase(of: id)
            state.limiter.closed(id)
            state.silentChannels[id] = nil
            return before
        }
        // An evicted connection was already counted out when it was evicted.
        if let before { observer?(.closed(pending: before != .authenticated)) }
    }

    /// The key connections are counted under: the IPv4 address, or the /64
    /// prefix of an IPv6 address (one host commonly holds a whole /64), an
    /// IPv4-mapped IPv6 address as its IPv4 address.
    static func sourceKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4:
            return address?.ipAddress ?? "?"
        case .v6:
            var bytes = [UInt8](repeating: 0, count: 16)
            guard let text = address?.ipAddress, inet_pton(AF_INET6, text, &bytes) == 1 else { return address?.ipAddress ?? "?" }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
                return bytes[12..<16].map(String.init).joined(separator: ".")
            }
            let prefix = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return prefix.joined(separator: ":") + "::/64"
        case .unixDomainSocket:
            return "unix"
        case .none:
            return "?"
        }
    }
}

/// The first handler of an admitted connection: tells the limiter when the
/// first bytes arrive (the connection is then no longer silent, so no longer
/// evictable), and passes everything on.
final class ConnectionAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let ticket: ConnectionAdmission.Ticket
    private var reported = false

    init(ticket: ConnectionAdmission.Ticket) {
        self.ticket = ticket
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !reported {
            reported = true
            ticket.bytesReceived()
        }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension ConnectionAdmissionHandler: Sendable {}
