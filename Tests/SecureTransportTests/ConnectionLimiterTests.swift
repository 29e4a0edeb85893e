import NIOCore
import Testing
@testable import SecureTransport

/// The connection caps, driven without sockets.
@Suite("connection limiter")
struct ConnectionLimiterTests {
    static let small = ConnectionLimits(
        maximumConnections: 8, maximumPendingHandshakes: 6, maximumPendingHandshakesPerAddress: 3
    )

    /// Admits a connection from `address` and returns its id, recording an issue if it was not admitted.
    func admit(_ limiter: inout ConnectionLimiter, _ address: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConnectionLimiter.ID? {
        guard case .admitted(let id, _) = limiter.opened(from: address) else {
            Issue.record("\(address) was refused", sourceLocation: sourceLocation)
            return nil
        }
        return id
    }

    @Test("silent connections past the per-address cap make room: the oldest silent one of that address is closed")
    func evictsOldestSilentOfSameAddress() throws {
        var limiter = ConnectionLimiter(limits: Self.small)
        let first = try #require(admit(&limiter, "10.0.0.1"))
        let second = try #require(admit(&limiter, "10.0.0.1"))
        _ = admit(&limiter, "10.0.0.1")
        let other = try #require(admit(&limiter, "10.0.0.2"))
        #expect(limiter.opened(from: "10.0.0.1") == .admitted(.init(value: 4), evicting: first))
        #expect(limiter.phase(of: first) == nil)
        #expect(limiter.opened(from: "10.0.0.1") == .admitted(.init(value: 5), evicting: second))
        #expect(limiter.phase(of: other) == .silent, "another address's connection is never evicted for a per-address cap")
        #expect(limiter.counts(for: "10.0.0.1") == (open: 3, pending: 3))
        #expect(limiter.open == 4 && limiter.pending == 4 && limiter.evictions == 2)
    }

    @Test("connections that sent bytes are not evicted: past the cap the new one is refused, naming the cap")
    func refusesWhenPendingAreHandshaking() throws {
        var limiter = ConnectionLimiter(limits: Self.small)
        for _ in 0..<3 { limiter.bytesReceived(try #require(admit(&limiter, "10.0.0.1"))) }
        #expect(limiter.opened(from: "10.0.0.1") == .refused(.pendingHandshakesPerAddress))
        #expect(limiter.refusals[.pendingHandshakesPerAddress] == 1)
        #expect(limiter.open == 3, "a refused connection is never counted")
        // Other addresses still get in, up to the total pending cap.
        for index in 0..<3 { limiter.bytesReceived(try #require(admit(&limiter, "10.0.1.\(index)"))) }
        #expect(limiter.opened(from: "10.0.2.1") == .refused(.pendingHandshakes))
    }

    @Test("authenticated connections leave the pending counts: 1,000 nodes behind one address are admitted")
    func authenticatedDoNotCountAsPending() throws {
        var limiter = ConnectionLimiter(limits: ConnectionLimits(
            maximumConnections: 1_100, maximumPendingHandshakes: 8, maximumPendingHandshakesPerAddress: 4
        ))
        for _ in 0..<1_000 {
            let id = try #require(admit(&limiter, "127.0.0.1"))
            limiter.bytesReceived(id)
            limiter.authenticated(id)
        }
        #expect(limiter.counts(for: "127.0.0.1") == (open: 1_000, pending: 0))
        #expect(limiter.refusals.isEmpty && limiter.evictions == 0)
    }

    @Test("the total cap counts authenticated connections too; a silent one anywhere makes room, an authenticated one never")
    func totalCap() throws {
        var limiter = ConnectionLimiter(limits: ConnectionLimits(
            maximumConnections: 4, maximumPendingHandshakes: 4, maximumPendingHandshakesPerAddress: 4
        ))
        var ids: [ConnectionLimiter.ID] = []
        for index in 0..<4 { ids.append(try #require(admit(&limiter, "10.0.0.\(index)"))) }
        for id in ids.dropFirst() { limiter.authenticated(id) }
        #expect(limiter.opened(from: "10.0.9.9") == .admitted(.init(value: 4), evicting: ids[0]))
        limiter.authenticated(.init(value: 4))
        #expect(limiter.opened(from: "10.0.9.9") == .refused(.connections))
    }

    @Test("a per-address cap on all connections applies to authenticated ones when set")
    func perAddressTotalCap() throws {
        var limiter = ConnectionLimiter(limits: ConnectionLimits(
            maximumConnections: 100, maximumConnectionsPerAddress: 2, maximumPendingHandshakes: 10, maximumPendingHandshakesPerAddress: 10
        ))
        for _ in 0..<2 { limiter.authenticated(try #require(admit(&limiter, "10.0.0.1"))) }
        #expect(limiter.opened(from: "10.0.0.1") == .refused(.connectionsPerAddress))
        #expect(admit(&limiter, "10.0.0.2") != nil)
    }

    @Test("closing returns every count to zero; closing twice and events after closing change nothing")
    func closingIsIdempotent() throws {
        var limiter = ConnectionLimiter(limits: Self.small)
        let silent = try #require(admit(&limiter, "10.0.0.1"))
        let handshaking = try #require(admit(&limiter, "10.0.0.1"))
        let authenticated = try #require(admit(&limiter, "10.0.0.2"))
        limiter.bytesReceived(handshaking)
        limiter.bytesReceived(authenticated)
        limiter.authenticated(authenticated)
        limiter.authenticated(authenticated)
        #expect(limiter.pending == 2)
        for id in [silent, handshaking, authenticated, silent] { limiter.closed(id) }
        limiter.authenticated(silent)
        limiter.bytesReceived(handshaking)
        #expect(limiter.open == 0 && limiter.pending == 0)
        #expect(limiter.counts(for: "10.0.0.1") == (open: 0, pending: 0))
        // With everything closed, the caps admit as many again without eviction.
        for _ in 0..<3 {
            guard case .admitted(_, nil) = limiter.opened(from: "10.0.0.1") else { Issue.record("evicted or refused"); return }
        }
    }

    @Test("an idle flood of 25,000 from one address never holds more than the per-address cap; a client that speaks still gets in")
    func floodFromOneAddress() throws {
        var limiter = ConnectionLimiter(limits: ConnectionLimits())
        var held = Set<ConnectionLimiter.ID>()
        for _ in 0..<25_000 {
            guard case .admitted(let id, let evicted) = limiter.opened(from: "127.0.0.1") else {
                Issue.record("a silent flood is never refused, it evicts itself"); return
            }
            held.insert(id)
            if let evicted { held.remove(evicted) }
        }
        #expect(held.count == 256 && limiter.open == 256 && limiter.pending == 256)
        let node = try #require(admit(&limiter, "127.0.0.1"))
        limiter.bytesReceived(node)
        limiter.authenticated(node)
        #expect(limiter.phase(of: node) == .authenticated)
        #expect(limiter.counts(for: "127.0.0.1") == (open: 256, pending: 255))
    }

    @Test("invalid limits name their field", arguments: [
        (ConnectionLimits(maximumConnections: 0), ConnectionLimits.Field.maximumConnections),
        (ConnectionLimits(maximumConnectionsPerAddress: 0), .maximumConnectionsPerAddress),
        (ConnectionLimits(maximumConnections: 100, maximumPendingHandshakes: 200, maximumPendingHandshakesPerAddress: 10), .maximumPendingHandshakes),
        (ConnectionLimits(maximumPendingHandshakes: 10, maximumPendingHandshakesPerAddress: 20), .maximumPendingHandshakesPerAddress),
        (ConnectionLimits(maximumPendingHandshakesPerAddress: 0), .maximumPendingHandshakesPerAddress),
        (ConnectionLimits(handshakeTimeout: .zero), .handshakeTimeout),
    ])
    func validation(_ limits: ConnectionLimits, _ field: ConnectionLimits.Field) {
        #expect(limits.problem?.field == field)
        #expect(throws: TLSError(.invalidConfiguration, "")) { try limits.validate() }
        do { try limits.validate() } catch {
            #expect(error.message.contains(field.rawValue), "\(error.message)")
        }
    }

    @Test("the defaults are valid and ordered: per address ≤ pending ≤ total")
    func defaults() {
        let limits = ConnectionLimits()
        #expect(limits.problem == nil)
        #expect(limits.maximumPendingHandshakesPerAddress < limits.maximumPendingHandshakes)
        #expect(limits.maximumPendingHandshakes < limits.maximumConnections)
        #expect(limits.maximumConnectionsPerAddress == nil)
    }

    @Test("addresses are counted per IPv4 address and per IPv6 /64; IPv4-mapped IPv6 counts as IPv4")
    func sourceKeys() throws {
        let v4 = try SocketAddress(ipAddress: "192.0.2.7", port: 1)
        #expect(ConnectionAdmission.sourceKey(v4) == "192.0.2.7")
        let a = try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)
        let b = try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 2)
        let c = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        #expect(ConnectionAdmission.sourceKey(a) == ConnectionAdmission.sourceKey(b))
        #expect(ConnectionAdmission.sourceKey(a) != ConnectionAdmission.sourceKey(c))
        let mapped = try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)
        #expect(ConnectionAdmission.sourceKey(mapped) == "192.0.2.7")
    }
}

/// The handshake timeout and the server's lazy start, in the TLS state machine.
@Suite("TLS state machine: handshake timeout")
struct HandshakeTimeoutStateTests {
    @Test("a server waits for the peer without a handshake step; the timeout closes a connection still handshaking")
    func serverWaitsThenTimesOut() {
        var machine = TLSStateMachine()
        #expect(machine.channelActive(awaitingPeer: true) == .awaitPeer)
        #expect(machine.state == .handshaking)
        guard case .failAndClose(let error) = machine.handshakeTimedOut() else {
            Issue.record("expected failAndClose"); return
        }
        #expect(error.code == .handshakeTimeout)
        #expect(machine.state == .closed)
        #expect(machine.handshakeTimedOut() == .none)
    }

    @Test("the timeout does nothing once the handshake completed")
    func timeoutAfterHandshake() {
        var machine = TLSStateMachine()
        _ = machine.channelActive(awaitingPeer: true)
        #expect(machine.ciphertextReceived() == .stepHandshake)
        #expect(machine.handshakeStepped(.complete) == .completeHandshake)
        #expect(machine.handshakeTimedOut() == .none)
        #expect(machine.state == .active)
    }
}
