/// How the coordinator runs rounds.
///
/// Synchronous rounds sample participants, wait for a quorum or a deadline
/// (never for one straggler) and cut one version per round. Asynchronous
/// rounds (FedBuff style) take updates from any node at any time and cut a
/// version every `bufferSize` updates — for fleets whose cars come online at
/// random times.
public struct RoundConfiguration: Sendable, Equatable, Codable {
    public enum Mode: Sendable, Equatable, Codable {
        case synchronous
        case asynchronous(bufferSize: Int)
    }

    public var mode: Mode
    /// Share of the live nodes invited to a synchronous round.
    public var participationFraction: Double
    /// Fewest nodes a synchronous round starts with.
    public var minParticipants: Int
    /// Most nodes invited to one round.
    public var maxParticipants: Int
    /// Share of the invited nodes whose updates close the round early.
    public var quorumFraction: Double
    /// Fewest accepted updates a round needs at its deadline to be aggregated;
    /// with fewer, it is abandoned and a new one opens.
    public var minUpdates: Int
    /// Seconds from opening after which a round closes with what it has.
    public var deadline: Double
    /// Seconds without a heartbeat after which a node counts as offline.
    /// Nodes send heartbeats during long local work, so slow is not dead.
    public var heartbeatTimeout: Double
    /// Seed of participant sampling (mixed with the round number).
    public var seed: UInt64

    public init(
        mode: Mode = .synchronous,
        participationFraction: Double = 1,
        minParticipants: Int = 1,
        maxParticipants: Int = 1_000,
        quorumFraction: Double = 0.8,
        minUpdates: Int = 1,
        deadline: Double = 300,
        heartbeatTimeout: Double = 90,
        seed: UInt64 = 0
    ) {
        self.mode = mode
        self.participationFraction = participationFraction
        self.minParticipants = minParticipants
        self.maxParticipants = maxParticipants
        self.quorumFraction = quorumFraction
        self.minUpdates = minUpdates
        self.deadline = deadline
        self.heartbeatTimeout = heartbeatTimeout
        self.seed = seed
    }

    /// Checks the values make sense together, naming the field that does not.
    public func validate() throws(CoordinatorError) {
        func fail(_ field: String, _ requirement: String) -> CoordinatorError {
            CoordinatorError(.invalidConfiguration, "rounds.\(field) \(requirement)")
        }
        if case .asynchronous(let bufferSize) = mode, bufferSize < 1 { throw fail("bufferSize", "must be ≥ 1") }
        guard participationFraction > 0, participationFraction <= 1 else { throw fail("participationFraction", "must be in (0, 1]") }
        guard minParticipants >= 1 else { throw fail("minParticipants", "must be ≥ 1") }
        guard maxParticipants >= minParticipants else { throw fail("maxParticipants", "must be ≥ minParticipants") }
        guard quorumFraction > 0, quorumFraction <= 1 else { throw fail("quorumFraction", "must be in (0, 1]") }
        guard minUpdates >= 1 else { throw fail("minUpdates", "must be ≥ 1") }
        guard deadline > 0 else { throw fail("deadline", "must be positive") }
        guard heartbeatTimeout > 0 else { throw fail("heartbeatTimeout", "must be positive") }
    }
}
