/// The accounting behind ``ConnectionLimits`` as a pure state machine: which
/// connections are open, from where, and how far each has come (silent,
/// handshaking, authenticated); whether a new one is admitted, and which
/// silent one is closed to make room.
///
/// Why pure: the rules (which caps apply to whom, who is evicted) are the part
/// that must be right, and tests drive them here by the thousand without a
/// socket. ``ConnectionAdmission`` carries out the decisions on channels.
struct ConnectionLimiter {
    /// One connection known to the limiter.
    struct ID: Hashable, Sendable, CustomStringConvertible {
        let value: UInt64
        var description: String { "#\(value)" }
    }

    /// How far a connection has come.
    enum Phase: Equatable {
        /// Accepted; not a byte received yet.
        case silent
        /// Bytes arrived (a ClientHello, presumably); the handshake runs.
        case handshaking
        /// The handshake completed: a verified peer.
        case authenticated
    }

    /// The cap that turned a connection away.
    enum Cap: String, Equatable, Sendable, CaseIterable {
        case connections
        case connectionsPerAddress = "connections_per_address"
        case pendingHandshakes = "pending_handshakes"
        case pendingHandshakesPerAddress = "pending_handshakes_per_address"
    }

    /// The decision on a new connection.
    enum Admission: Equatable {
        /// Admitted as `id`; close `evicting` (an older silent connection) first, if set.
        case admitted(ID, evicting: ID?)
        /// Close the new connection at once: `cap` is full and no silent connection can make room.
        case refused(Cap)
    }

    private struct Entry {
        var address: String
        var phase: Phase
    }

    private struct Counts {
        var open = 0
        var pending = 0
        /// This address's silent connections, oldest first.
        var silent: [ID] = []
    }

    let limits: ConnectionLimits
    private var entries: [ID: Entry] = [:]
    private var perAddress: [String: Counts] = [:]
    /// Silent connections, oldest first (at most ``ConnectionLimits/maximumPendingHandshakes``).
    private var silent: [ID] = []
    private var nextID: UInt64 = 0

    /// Connections open now.
    private(set) var open = 0
    /// Connections open now whose handshake has not completed.
    private(set) var pending = 0
    /// New connections refused, per cap, since the start.
    private(set) var refusals: [Cap: Int] = [:]
    /// Silent connections closed to make room, since the start.
    private(set) var evictions = 0

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    /// Connections open now from `address`, and how many of them are pending.
    func counts(for address: String) -> (open: Int, pending: Int) {
        let counts = perAddress[address] ?? Counts()
        return (counts.open, counts.pending)
    }

    /// The phase of `id`, nil once it is closed (or was never admitted).
    func phase(of id: ID) -> Phase? { entries[id]?.phase }

    /// A connection from `address` was accepted: admit it (perhaps evicting an
    /// older silent connection) or refuse it.
    mutating func opened(from address: String) -> Admission {
        let full = fullCaps(for: address)
        guard let firstFull = full.first else {
            return .admitted(admit(address), evicting: nil)
        }
        // A full per-address cap can only be relieved by a connection of the same address.
        let needsSameAddress = full.contains(.pendingHandshakesPerAddress) || full.contains(.connectionsPerAddress)
        let victim = perAddress[address]?.silent.first ?? (needsSameAddress ? nil : silent.first)
        guard let victim else {
            refusals[firstFull, default: 0] += 1
            return .refused(firstFull)
        }
        closed(victim)
        evictions += 1
        return .admitted(admit(address), evicting: victim)
    }

    /// The first bytes of `id` arrived: it is no longer silent, so no longer evictable.
    mutating func bytesReceived(_ id: ID) {
        guard var entry = entries[id], entry.phase == .silent else { return }
        entry.phase = .handshaking
        entries[id] = entry
        forgetSilent(id, of: entry.address)
    }

    /// The handshake of `id` completed: it leaves the pending counts.
    mutating func authenticated(_ id: ID) {
        guard var entry = entries[id], entry.phase != .authenticated else { return }
        if entry.phase == .silent { forgetSilent(id, of: entry.address) }
        entry.phase = .authenticated
        entries[id] = entry
        pending -= 1
        perAddress[entry.address]?.pending -= 1
    }

    /// `id` closed (or was evicted). Closing twice is harmless.
    mutating func closed(_ id: ID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        open -= 1
        if entry.phase != .authenticated { pending -= 1 }
        if entry.phase == .silent { forgetSilent(id, of: entry.address) }
        var counts = perAddress[entry.address] ?? Counts()
        counts.open -= 1
        if entry.phase != .authenticated { counts.pending -= 1 }
        perAddress[entry.address] = counts.open > 0 ? counts : nil
    }

    /// The caps a new connection from `address` would break, per-address ones first.
    private func fullCaps(for address: String) -> [Cap] {
        let counts = perAddress[address] ?? Counts()
        var full: [Cap] = []
        if counts.pending >= limits.maximumPendingHandshakesPerAddress { full.append(.pendingHandshakesPerAddress) }
        if let cap = limits.maximumConnectionsPerAddress, counts.open >= cap { full.append(.connectionsPerAddress) }
        if pending >= limits.maximumPendingHandshakes { full.append(.pendingHandshakes) }
        if open >= limits.maximumConnections { full.append(.connections) }
        return full
    }

    private mutating func forgetSilent(_ id: ID, of address: String) {
        if let index = silent.firstIndex(of: id) { silent.remove(at: index) }
        if let index = perAddress[address]?.silent.firstIndex(of: id) { perAddress[address]?.silent.remove(at: index) }
    }

    private mutating func admit(_ address: String) -> ID {
        let id = ID(value: nextID)
        nextID += 1
        entries[id] = Entry(address: address, phase: .silent)
        silent.append(id)
        open += 1
        pending += 1
        perAddress[address, default: Counts()].open += 1
        perAddress[address, default: Counts()].pending += 1
        perAddress[address, default: Counts()].silent.append(id)
        return id
    }
}
