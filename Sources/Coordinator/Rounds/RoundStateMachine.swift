/// The lifecycle of federated rounds, as a pure state machine.
///
/// It owns no sockets, clocks or files: the coordinator service feeds it
/// events (a node was seen, asked for a task, sent an update, a timer fired,
/// aggregation or the gate finished) with the current time, and carries out
/// the action each method returns. Tests drive it the same way with no I/O.
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
    /// One round (or asynchronous buffer) in progress.
    public struct Round: Sendable, Equatable, Codable {
        public let number: UInt64
        /// The model version participants start from.
        public let baseVersion: UInt64
        /// When it opened, in the caller's clock (seconds).
        public let openedAt: Double
        /// Invited nodes, sorted; empty in asynchronous mode (everyone may send).
        public let participants: [String]
        /// Nodes whose updates were accepted, in order.
        public internal(set) var accepted: [String]
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
    /// The newest published model version.
    public private(set) var currentVersion: UInt64
    /// The round taking updates, if any.
    public private(set) var collecting: Round?
    /// The round being aggregated or gated, if any.
    public private(set) var finishing: (round: Round, stage: FinishingStage)?
    /// The number the next round will get.
    public private(set) var nextRoundNumber: UInt64
    /// When each node was last heard from.
    public private(set) var lastSeen: [String: Double] = [:]
    /// Hash indexes of ``collecting`` (see ``CollectingIndex``); nil when no round collects.
    private var index: CollectingIndex?
    /// When ``lastSeen`` was last pruned of nodes long gone.
    private var lastPruned = -Double.infinity

    public init(configuration: RoundConfiguration, currentVersion: UInt64, nextRoundNumber: UInt64 = 1) throws(CoordinatorError) {
        try configuration.validate()
        self.configuration = configuration
        self.currentVersion = currentVersion
        self.nextRoundNumber = nextRoundNumber
    }

    private var isAsynchronous: Bool {
        if case .asynchronous = configuration.mode { return true }
        return false
    }

    /// Nodes heard from within the heartbeat timeout, sorted.
    public func liveNodes(at now: Double) -> [String] {
        lastSeen.filter { now - $0.value <= configuration.heartbeatTimeout }.keys.sorted()
    }

    // MARK: Events

    /// A node sent a heartbeat or any request: it is alive. Rounds open and
    /// close on ``tick(at:)``, which the service calls on a timer and on task requests.
    public mutating func nodeSeen(_ node: String, at now: Double) {
        // A node that was not alive coming back can change the quorum's count.
        if lastSeen[node].map({ now - $0 > configuration.heartbeatTimeout }) ?? true {
            index?.invalidateReachable()
        }
        lastSeen[node] = now
    }

    /// Time passed: open a round if none is open, close one past its deadline,
    /// forget nodes long gone.
    public mutating func tick(at now: Double) -> Action {
        // Pruned at most once a heartbeat timeout: filtering every node on
        // every task request made each request O(nodes). A node is
        // forgotten 10 to 11 timeouts after it was last heard from.
        let forgetAfter = 10 * configuration.heartbeatTimeout
        if now - lastPruned >= configuration.heartbeatTimeout || now < lastPruned {
            lastSeen = lastSeen.filter { now - $0.value <= forgetAfter }
            lastPruned = now
        }

        if let round = collecting {
            let pastDeadline = now - round.openedAt >= configuration.deadline
            if pastDeadline && round.accepted.count >= configuration.minUpdates {
                return close(round)
            }
            if pastDeadline && !isAsynchronous {
                collecting = nil
                return .abandon(round, reason: "the deadline passed with \(round.accepted.count) of \(configuration.minUpdates) required updates")
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
        guard let round = collecting, !hasSent(node, round) else { return (.wait, action) }
        if isAsynchronous {
            return (.participate(round: round.number, baseVersion: currentVersion), action)
        }
        guard isInvited(node, round) else { return (.wait, action) }
        return (.participate(round: round.number, baseVersion: round.baseVersion), action)
    }

    /// Whether an update from `node` for `round` may be validated and folded in.
    ///
    /// Checked before the (costly) decoding and aggregation; on success the
    /// service folds the update and then calls ``updateAccepted(from:round:at:)``.
    /// - Throws: `roundClosed` (HTTP 409, the message names the open round),
    ///   `notParticipant` or `duplicateUpdate`.
    public func admitUpdate(from node: String, round number: UInt64) throws(CoordinatorError) {
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
            guard isInvited(node, round) else {
                throw CoordinatorError(.notParticipant, "node \(node) was not invited to round \(number)")
            }
        }
        guard !hasSent(node, round) else {
            throw CoordinatorError(.duplicateUpdate, "node \(node) already sent its update for round \(round.number)")
        }
    }

    /// An admitted update was validated and folded in.
    public mutating func updateAccepted(from node: String, round number: UInt64, at now: Double) throws(CoordinatorError) -> Action {
        try admitUpdate(from: node, round: number)
        nodeSeen(node, at: now)
        collecting!.accepted.append(node)
        if index?.round == number { index!.accept(node) }
        let round = collecting!
        if case .asynchronous(let bufferSize) = configuration.mode, round.accepted.count >= bufferSize {
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
    /// Its deadline still counts from when it first opened.
    public mutating func resumeCollecting(_ round: Round) {
        collecting = round
        index = CollectingIndex(round)
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

    private mutating func open(at now: Double) -> Action {
        let live = liveNodes(at: now)
        let participants: [String]
        if isAsynchronous {
            guard !live.isEmpty else { return .none }
            participants = []
        } else {
            guard live.count >= configuration.minParticipants else { return .none }
            let wanted = Int((configuration.participationFraction * Double(live.count)).rounded(.up))
            let count = min(max(wanted, configuration.minParticipants), configuration.maxParticipants, live.count)
            participants = Self.sample(live, count: count, seed: Self.mix(configuration.seed, nextRoundNumber)).sorted()
        }
        let round = Round(
            number: nextRoundNumber, baseVersion: currentVersion, openedAt: now,
            participants: participants, accepted: []
        )
        nextRoundNumber += 1
        collecting = round
        index = CollectingIndex(round)
        return .openRound(round)
    }

    private mutating func close(_ round: Round) -> Action {
        collecting = nil
        finishing = (round, .aggregating)
        return .aggregate(round)
    }

    /// Enough of the invited nodes that are still alive (or already sent) have sent.
    private mutating func quorumReached(_ round: Round, at now: Double) -> Bool {
        guard !isAsynchronous else { return false }
        if index?.round != round.number { index = CollectingIndex(round) }
        let reachable = index!.reachableCount(
            at: now, lastSeen: lastSeen, timeout: configuration.heartbeatTimeout, participantsInOrder: round.participants
        )
        let required = max(configuration.minUpdates, Int((configuration.quorumFraction * Double(reachable)).rounded(.up)))
        return round.accepted.count >= required
    }

    /// Whether `node` is invited to `round` (O(1) through the index when it is current).
    private func isInvited(_ node: String, _ round: Round) -> Bool {
        index?.round == round.number ? index!.participants.contains(node) : round.participants.contains(node)
    }

    /// Whether `round` already accepted an update from `node`.
    private func hasSent(_ node: String, _ round: Round) -> Bool {
        index?.round == round.number ? index!.accepted.contains(node) : round.accepted.contains(node)
    }

    /// A seeded partial Fisher–Yates shuffle: the first `count` of `nodes`.
    static func sample(_ nodes: [String], count: Int, seed: UInt64) -> [String] {
        var pool = nodes
        var state = seed
        for index in 0..<count {
            state = mix(state, UInt64(index))
            let pick = index + Int(state % UInt64(pool.count - index))
            pool.swapAt(index, pick)
        }
        return Array(pool.prefix(count))
    }

    /// SplitMix64 of `a` and `b`.
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var z = a &+ 0x9E37_79B9_7F4A_7C15 &* (b &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
