/// The lifecycle of federated rounds, as a pure state machine.
///
/// It owns no sockets, clocks or files: the coordinator service feeds it
/// events (a node was seen, asked for a task, sent an update, a timer fired,
/// aggregation or the gate finished) with the current time, and carries out
/// the action each method returns. It keeps counts only; the per-node facts
/// (who was heard from when, who is invited, who sent) are in a
/// ``RoundLedger`` — the coordinator's database, or memory in tests — so its
/// size does not grow with the fleet.
///
/// A synchronous round goes
///
///     idle → collecting → aggregating → gating → (published | rejected) → idle
///
/// and closes at a quorum of its invited nodes or at its deadline, whichever
/// comes first, so one straggler never holds it up; a round that reaches its
/// deadline with too few updates is abandoned and a new one opens. In
/// asynchronous mode a new buffer starts collecting as soon as the previous
/// one goes to aggregation, and a version is cut every `bufferSize` updates.
public struct RoundStateMachine: Sendable {
    /// One round (or asynchronous buffer) in progress: counts only; who is
    /// invited and who sent are in the ledger.
    public struct Round: Sendable, Equatable, Codable {
        public let number: UInt64
        /// The model version participants start from.
        public let baseVersion: UInt64
        /// When it opened, in the caller's clock (seconds).
        public let openedAt: Double
        /// How many nodes are invited; nil in asynchronous mode (any node may send).
        public let invitedCount: Int?
        /// How many updates were accepted.
        public internal(set) var acceptedCount: Int

        public init(number: UInt64, baseVersion: UInt64, openedAt: Double, invitedCount: Int?, acceptedCount: Int = 0) {
            self.number = number
            self.baseVersion = baseVersion
            self.openedAt = openedAt
            self.invitedCount = invitedCount
            self.acceptedCount = acceptedCount
        }
    }

    /// Where a finishing round is.
    public enum FinishingStage: String, Sendable, Equatable, Codable {
        case aggregating
        case gating
    }

    /// What the service must do after an event.
    public enum Action: Sendable, Equatable {
        /// Nothing.
        case none
        /// A round opened: tell the invited nodes (their long polls can return).
        case openRound(Round)
        /// The round closed: aggregate its accepted updates into a candidate.
        case aggregate(Round)
        /// The round ended without enough updates; nothing changes.
        case abandon(Round, reason: String)
        /// Aggregation is done: run the gate on the candidate.
        case gate(Round)
        /// The gate finished; `published` says whether a version was cut.
        case finish(Round, published: Bool)
    }

    /// The answer to a node asking for work.
    public enum TaskDecision: Sendable, Equatable {
        /// Train on `baseVersion` and send an update for `round`.
        case participate(round: UInt64, baseVersion: UInt64)
        /// No work for this node now; ask again later (long poll).
        case wait
    }

    public let configuration: RoundConfiguration
    /// Who was heard from, who is invited, who sent.
    public let ledger: any RoundLedger
    /// The newest published model version.
    public private(set) var currentVersion: UInt64
    /// The round taking updates, if any.
    public private(set) var collecting: Round?
    /// The round being aggregated or gated, if any.
    public private(set) var finishing: (round: Round, stage: FinishingStage)?
    /// The number the next round will get.
    public private(set) var nextRoundNumber: UInt64
    /// The collecting round's count of reachable participants (see ``ReachableCount``).
    private var reachable: ReachableCount?

    public init(
        configuration: RoundConfiguration, ledger: any RoundLedger = InMemoryRoundLedger(),
        currentVersion: UInt64, nextRoundNumber: UInt64 = 1
    ) throws(CoordinatorError) {
        try configuration.validate()
        self.configuration = configuration
        self.ledger = ledger
        self.currentVersion = currentVersion
        self.nextRoundNumber = nextRoundNumber
    }

    private var isAsynchronous: Bool {
        if case .asynchronous = configuration.mode { return true }
        return false
    }

    /// How many nodes were heard from within the heartbeat timeout.
    public func liveCount(at now: Double) -> Int {
        ledger.liveCount(since: now - configuration.heartbeatTimeout)
    }

    // MARK: Events

    /// A node sent a heartbeat or any request: it is alive. Rounds open and
    /// close on ``tick(at:)``, which the service calls on a timer and on task requests.
    public mutating func nodeSeen(_ node: String, at now: Double) {
        let before = ledger.noteSeen(node, at: now)
        // A node that was not alive coming back can change the quorum's count.
        if before.map({ now - $0 > configuration.heartbeatTimeout }) ?? true {
            reachable = nil
        }
    }

    /// Time passed: open a round if none is open, close one past its deadline.
    public mutating func tick(at now: Double) -> Action {
        if let round = collecting {
            let pastDeadline = now - round.openedAt >= configuration.deadline
            if pastDeadline && round.acceptedCount >= configuration.minUpdates {
                return close(round)
            }
            if pastDeadline && !isAsynchronous {
                collecting = nil
                return .abandon(round, reason: "the deadline passed with \(round.acceptedCount) of \(configuration.minUpdates) required updates")
            }
            // An asynchronous buffer simply keeps collecting until it has enough.
            return quorumReached(round, at: now) ? close(round) : .none
        }
        if collecting == nil && (isAsynchronous || finishing == nil) {
            return open(at: now)
        }
        return .none
    }

    /// A node asks for work.
    public mutating func taskRequested(by node: String, at now: Double) -> (TaskDecision, Action) {
        nodeSeen(node, at: now)
        let action = tick(at: now)
        guard let round = collecting, !ledger.hasSent(node, in: round.number) else { return (.wait, action) }
        if isAsynchronous {
            return (.participate(round: round.number, baseVersion: currentVersion), action)
        }
        guard ledger.isInvited(node, to: round.number) else { return (.wait, action) }
        return (.participate(round: round.number, baseVersion: round.baseVersion), action)
    }

    /// Whether an update from `node` for `round` may be validated and folded in.
    ///
    /// Checked before the (costly) decoding and aggregation; on success the
    /// service records and folds the update and then calls
    /// ``updateAccepted(from:round:at:)``.
    /// - Throws: `roundClosed` (HTTP 409, the message names the open round),
    ///   `notParticipant` or `duplicateUpdate`.
    public func admitUpdate(from node: String, round number: UInt64) throws(CoordinatorError) {
        let round = try takingUpdates(from: node, round: number)
        guard !ledger.hasSent(node, in: round.number) else {
            throw CoordinatorError(.duplicateUpdate, "node \(node) already sent its update for round \(round.number)")
        }
    }

    /// An admitted update was recorded and folded in (the caller checked
    /// ``admitUpdate(from:round:)`` first; the ledger may already hold it).
    public mutating func updateAccepted(from node: String, round number: UInt64, at now: Double) throws(CoordinatorError) -> Action {
        let open = try takingUpdates(from: node, round: number)
        nodeSeen(node, at: now)
        ledger.recordAccepted(node, in: open.number, at: now)
        collecting!.acceptedCount += 1
        let round = collecting!
        if case .asynchronous(let bufferSize) = configuration.mode, round.acceptedCount >= bufferSize {
            return close(round)
        }
        return quorumReached(round, at: now) ? close(round) : .none
    }

    /// The candidate of `round` is built.
    public mutating func aggregationFinished(round number: UInt64) -> Action {
        guard let current = finishing, current.round.number == number, current.stage == .aggregating else { return .none }
        finishing = (current.round, .gating)
        return .gate(current.round)
    }

    /// Aggregation of `round` failed (e.g. every update was refused): drop
    /// it. The next ``tick(at:)`` opens a new round.
    public mutating func aggregationFailed(round number: UInt64, reason: String) -> Action {
        guard let current = finishing, current.round.number == number else { return .none }
        finishing = nil
        return .abandon(current.round, reason: reason)
    }

    /// The gate of `round` decided; a promoted candidate became `version`.
    public mutating func gateFinished(round number: UInt64, promotedVersion version: UInt64?) -> Action {
        guard let current = finishing, current.round.number == number, current.stage == .gating else { return .none }
        finishing = nil
        if let version { currentVersion = max(currentVersion, version) }
        return .finish(current.round, published: version != nil)
    }

    /// A version was published outside a round (an operator approved a
    /// candidate): later rounds start from it.
    public mutating func versionPublished(_ version: UInt64) {
        currentVersion = max(currentVersion, version)
    }

    // MARK: Recovery

    /// Restores a round that was collecting when the coordinator stopped, with
    /// the updates it had acknowledged (the service re-folds their bodies).
    /// Its deadline still counts from when it first opened; its invited
    /// nodes count as heard from now, for one heartbeat timeout.
    public mutating func resumeCollecting(_ round: Round, at now: Double) {
        ledger.refreshParticipants(of: round.number, at: now)
        collecting = round
        reachable = nil
        nextRoundNumber = max(nextRoundNumber, round.number + 1)
    }

    /// Restores a round that had closed but was not yet aggregated or gated
    /// when the coordinator stopped: it is aggregated again from its
    /// acknowledged updates.
    public mutating func resumeFinishing(_ round: Round) -> Action {
        finishing = (round, .aggregating)
        nextRoundNumber = max(nextRoundNumber, round.number + 1)
        return .aggregate(round)
    }

    // MARK: Internals

    /// The collecting round, if it takes an update from `node` for round `number`.
    private func takingUpdates(from node: String, round number: UInt64) throws(CoordinatorError) -> Round {
        guard let round = collecting else {
            throw CoordinatorError(.roundClosed, "round \(number) is not taking updates; no round is open now")
        }
        if isAsynchronous {
            guard number <= round.number else {
                throw CoordinatorError(.roundClosed, "round \(number) has not opened; the open round is \(round.number)")
            }
        } else {
            guard number == round.number else {
                throw CoordinatorError(.roundClosed, "round \(number) is not taking updates; the open round is \(round.number)")
            }
            guard ledger.isInvited(node, to: round.number) else {
                throw CoordinatorError(.notParticipant, "node \(node) was not invited to round \(number)")
            }
        }
        return round
    }

    private mutating func open(at now: Double) -> Action {
        let liveSince = now - configuration.heartbeatTimeout
        let live = ledger.liveCount(since: liveSince)
        let invited: Int?
        if isAsynchronous {
            guard live > 0 else { return .none }
            invited = nil
        } else {
            guard live >= configuration.minParticipants else { return .none }
            let wanted = Int((configuration.participationFraction * Double(live)).rounded(.up))
            let count = min(max(wanted, configuration.minParticipants), configuration.maxParticipants, live)
            var sampler = ParticipantSampler(choosing: count, of: live, seed: Self.mix(configuration.seed, nextRoundNumber))
            invited = ledger.invite(round: nextRoundNumber, liveSince: liveSince, sampler: &sampler)
        }
        let round = Round(number: nextRoundNumber, baseVersion: currentVersion, openedAt: now, invitedCount: invited)
        nextRoundNumber += 1
        collecting = round
        reachable = nil
        return .openRound(round)
    }

    private mutating func close(_ round: Round) -> Action {
        collecting = nil
        reachable = nil
        finishing = (round, .aggregating)
        return .aggregate(round)
    }

    /// Enough of the invited nodes that are still alive (or already sent) have sent.
    private mutating func quorumReached(_ round: Round, at now: Double) -> Bool {
        guard !isAsynchronous else { return false }
        let timeout = configuration.heartbeatTimeout
        let count: Int
        if let cached = reachable, cached.round == round.number, cached.holds(at: now, timeout: timeout) {
            count = cached.count
        } else {
            let counted = ledger.reachableParticipants(of: round.number, aliveSince: now - timeout)
            reachable = ReachableCount(round: round.number, count: counted.count, countedAt: now, oldestAlive: counted.oldestAlive)
            count = counted.count
        }
        let required = max(configuration.minUpdates, Int((configuration.quorumFraction * Double(count)).rounded(.up)))
        return round.acceptedCount >= required
    }

    /// SplitMix64 of `a` and `b`.
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var z = a &+ 0x9E37_79B9_7F4A_7C15 &* (b &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The collecting round's count of reachable participants (sent, or heard
/// from within the heartbeat timeout), kept between requests.
///
/// Why: counting them asks the ledger about every participant, and the
/// quorum is checked on every upload and task request — O(nodes) per
/// request, O(nodes²) per round. The count only changes when time passes the
/// oldest alive participant's timeout, or when a node that was not alive is
/// heard from again (which drops the cache); it is recounted then and reused
/// otherwise.
struct ReachableCount: Sendable {
    let round: UInt64
    let count: Int
    let countedAt: Double
    /// The oldest last-heard time among the alive participants counted.
    let oldestAlive: Double?

    func holds(at now: Double, timeout: Double) -> Bool {
        now >= countedAt && oldestAlive.map { now - $0 <= timeout } ?? true
    }
}
