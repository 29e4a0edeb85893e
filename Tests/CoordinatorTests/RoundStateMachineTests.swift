import Testing
@testable import Coordinator

@Suite("round state machine")
struct RoundStateMachineTests {
    static let nodes = (0..<10).map { "node-\($0)" }

    func machine(_ configuration: RoundConfiguration) throws -> RoundStateMachine {
        var machine = try RoundStateMachine(configuration: configuration, ledger: InMemoryRoundLedger(), currentVersion: 3)
        for node in Self.nodes { machine.nodeSeen(node, at: 0) }
        return machine
    }

    /// A round and, from the ledger, its invited nodes (sorted).
    struct Opened {
        var round: RoundStateMachine.Round
        var participants: [String]
        var number: UInt64 { round.number }
        var baseVersion: UInt64 { round.baseVersion }
    }

    func openRound(_ machine: inout RoundStateMachine) throws -> Opened {
        let round: RoundStateMachine.Round
        if case .openRound(let opened) = machine.tick(at: 0) {
            round = opened
        } else if let collecting = machine.collecting {
            round = collecting
        } else {
            throw RoundError.notOpened
        }
        return Opened(round: round, participants: ledger(machine).participants(of: round.number))
    }

    func ledger(_ machine: RoundStateMachine) -> InMemoryRoundLedger {
        machine.ledger as! InMemoryRoundLedger
    }

    enum RoundError: Error { case notOpened }

    @Test("a round samples its participants, reproducibly from the seed")
    func sampling() throws {
        var first = try machine(RoundConfiguration(participationFraction: 0.5, minParticipants: 2, seed: 42))
        var second = try machine(RoundConfiguration(participationFraction: 0.5, minParticipants: 2, seed: 42))
        let a = try openRound(&first)
        let b = try openRound(&second)
        #expect(a.participants.count == 5 && a.round.invitedCount == 5)
        #expect(a.participants == b.participants)
        #expect(a.baseVersion == 3)
        #expect(Set(a.participants).isSubset(of: Set(Self.nodes)))
    }

    @Test("invited nodes get the task, others wait")
    func tasks() throws {
        var machine = try machine(RoundConfiguration(participationFraction: 0.3, seed: 1))
        let round = try openRound(&machine)
        let invited = round.participants[0]
        let outsider = try #require(Self.nodes.first { !round.participants.contains($0) })
        #expect(machine.taskRequested(by: invited, at: 1).0 == .participate(round: round.number, baseVersion: 3))
        #expect(machine.taskRequested(by: outsider, at: 1).0 == .wait)
    }

    @Test("the round closes at its quorum, not waiting for the last straggler")
    func quorum() throws {
        var machine = try machine(RoundConfiguration(quorumFraction: 0.8))
        let round = try openRound(&machine)
        var action = RoundStateMachine.Action.none
        for node in round.participants.prefix(7) {
            action = try machine.updateAccepted(from: node, round: round.number, at: 5)
            #expect(action == .none)
        }
        action = try machine.updateAccepted(from: round.participants[7], round: round.number, at: 6)
        guard case .aggregate(let closed) = action else {
            Issue.record("expected aggregation at 8 of 10, got \(action)")
            return
        }
        #expect(closed.acceptedCount == 8)
        // The straggler's late update is refused with 409 and the open round named.
        #expect(throws: CoordinatorError(.roundClosed, "")) {
            try machine.updateAccepted(from: round.participants[9], round: round.number, at: 7)
        }
    }

    @Test("at the deadline a round aggregates what it has, or is abandoned")
    func deadline() throws {
        var machine = try machine(RoundConfiguration(minUpdates: 2, deadline: 60, heartbeatTimeout: 1_000))
        let round = try openRound(&machine)
        _ = try machine.updateAccepted(from: round.participants[0], round: round.number, at: 10)
        #expect(machine.tick(at: 59) == .none)
        guard case .abandon(let abandoned, _) = machine.tick(at: 60) else {
            Issue.record("one update of two required must abandon the round")
            return
        }
        #expect(abandoned.number == round.number)
        // A new round opens straight away, and this time two updates arrive.
        guard case .openRound(let next) = machine.tick(at: 61) else {
            Issue.record("a new round must open after an abandoned one")
            return
        }
        #expect(next.number == round.number + 1)
        let invited = ledger(machine).participants(of: next.number)
        _ = try machine.updateAccepted(from: invited[0], round: next.number, at: 70)
        _ = try machine.updateAccepted(from: invited[1], round: next.number, at: 71)
        guard case .aggregate(let closed) = machine.tick(at: 121) else {
            Issue.record("two updates at the deadline must be aggregated")
            return
        }
        #expect(closed.acceptedCount == 2)
    }

    @Test("heartbeats keep a slow node in the quorum; silence drops it")
    func heartbeats() throws {
        var machine = try machine(RoundConfiguration(quorumFraction: 1, deadline: 10_000, heartbeatTimeout: 30))
        let round = try openRound(&machine)
        for node in round.participants.dropLast() {
            machine.nodeSeen(node, at: 20)
            _ = try machine.updateAccepted(from: node, round: round.number, at: 25)
        }
        // The last node keeps sending heartbeats during long local work…
        let slow = round.participants.last!
        for beat in 1...10 {
            machine.nodeSeen(slow, at: Double(beat * 20))
            #expect(machine.tick(at: Double(beat * 20)) == .none)
        }
        #expect(machine.collecting != nil)
        // …and once it goes silent past the timeout, the round closes without it.
        guard case .aggregate = machine.tick(at: 200 + 31) else {
            Issue.record("a node silent past its heartbeat timeout must not hold the round")
            return
        }
    }

    @Test("a node heard from again after its timeout counts for the quorum again")
    func returningNode() throws {
        var machine = try machine(RoundConfiguration(quorumFraction: 1, deadline: 10_000, heartbeatTimeout: 30))
        let round = try openRound(&machine)
        #expect(round.participants.count == 10)
        let (present, returning, gone) = (round.participants.prefix(8), round.participants[8], round.participants[9])
        for node in present { machine.nodeSeen(node, at: 20) }
        // At 35 the last two are silent past the timeout: eight are reachable.
        #expect(machine.tick(at: 35) == .none)
        // One comes back: nine must send before the round closes.
        machine.nodeSeen(returning, at: 36)
        for node in present {
            #expect(try machine.updateAccepted(from: node, round: round.number, at: 37) == .none, "the returning node must still be waited for")
        }
        #expect(machine.collecting != nil)
        guard case .aggregate(let closed) = try machine.updateAccepted(from: returning, round: round.number, at: 38) else {
            Issue.record("the ninth update must close the round (the tenth node is gone)")
            return
        }
        #expect(!ledger(machine).accepted(in: round.number).contains(gone) && closed.acceptedCount == 9)
    }

    @Test("updates are refused when they are not for the open round, not invited, or repeated")
    func admission() throws {
        var machine = try machine(RoundConfiguration(participationFraction: 0.5, seed: 7))
        let round = try openRound(&machine)
        let outsider = try #require(Self.nodes.first { !round.participants.contains($0) })
        #expect(throws: CoordinatorError(.roundClosed, "")) { try machine.admitUpdate(from: round.participants[0], round: round.number + 1) }
        #expect(throws: CoordinatorError(.notParticipant, "")) { try machine.admitUpdate(from: outsider, round: round.number) }
        _ = try machine.updateAccepted(from: round.participants[0], round: round.number, at: 1)
        #expect(throws: CoordinatorError(.duplicateUpdate, "")) { try machine.admitUpdate(from: round.participants[0], round: round.number) }
        #expect(CoordinatorError.Code.roundClosed.status == 409)
    }

    @Test("aggregate → gate → publish moves the current version and opens the next round")
    func lifecycle() throws {
        var machine = try machine(RoundConfiguration(quorumFraction: 0.1))
        let round = try openRound(&machine)
        guard case .aggregate = try machine.updateAccepted(from: round.participants[0], round: round.number, at: 1) else {
            Issue.record("quorum of one must close the round")
            return
        }
        #expect(machine.tick(at: 2) == .none)  // no new round while one is finishing
        #expect(machine.aggregationFinished(round: round.number) == .gate(machine.finishing!.round))
        #expect(machine.finishing?.round.acceptedCount == 1)
        guard case .finish(_, published: true) = machine.gateFinished(round: round.number, promotedVersion: 4) else {
            Issue.record("a promoted candidate must finish as published")
            return
        }
        #expect(machine.currentVersion == 4)
        guard case .openRound(let next) = machine.tick(at: 3) else {
            Issue.record("the next round must open")
            return
        }
        #expect(next.baseVersion == 4)
    }

    @Test("asynchronous mode cuts a version every buffer and keeps collecting meanwhile")
    func asynchronous() throws {
        var machine = try machine(RoundConfiguration(mode: .asynchronous(bufferSize: 3)))
        let buffer = try openRound(&machine)
        #expect(buffer.participants.isEmpty && buffer.round.invitedCount == nil)
        #expect(machine.taskRequested(by: "node-9", at: 1).0 == .participate(round: buffer.number, baseVersion: 3))
        _ = try machine.updateAccepted(from: "node-1", round: buffer.number, at: 2)
        _ = try machine.updateAccepted(from: "node-2", round: buffer.number, at: 3)
        guard case .aggregate(let full) = try machine.updateAccepted(from: "node-3", round: buffer.number, at: 4) else {
            Issue.record("a full buffer must go to aggregation")
            return
        }
        #expect(full.acceptedCount == 3 && ledger(machine).accepted(in: full.number) == ["node-1", "node-2", "node-3"])
        // The next buffer opens at once, while the previous one is still finishing.
        guard case .openRound(let next) = machine.tick(at: 5) else {
            Issue.record("asynchronous mode must keep collecting")
            return
        }
        // An update computed for the previous buffer still counts (staleness is weighed later).
        _ = try machine.updateAccepted(from: "node-4", round: buffer.number, at: 6)
        #expect(machine.collecting?.acceptedCount == 1 && ledger(machine).accepted(in: next.number) == ["node-4"])
        #expect(next.number == buffer.number + 1)
    }

    @Test("a sampler picks exactly its count, in order, reproducibly; different seeds pick differently")
    func sampler() {
        func pick(_ seed: UInt64) -> [Int] {
            var sampler = ParticipantSampler(choosing: 30, of: 1_000, seed: seed)
            return (0..<1_000).filter { _ in sampler.pickNext() }
        }
        #expect(pick(5).count == 30)
        #expect(pick(5) == pick(5))
        #expect(pick(5) != pick(6))
        var all = ParticipantSampler(choosing: 4, of: 4, seed: 9)
        #expect((0..<4).allSatisfy { _ in all.pickNext() })
        // Over many seeds every item is about equally likely (30 of 1,000 each time).
        var hits = [Int](repeating: 0, count: 10)
        for seed in 0..<2_000 as Range<UInt64> {
            for item in pick(seed) where item < 10 { hits[item] += 1 }
        }
        #expect(hits.allSatisfy { (30...90).contains($0) }, "each item should be picked about 60 times in 2,000 draws: \(hits)")
    }

    @Test("the machine holds counts only: a round of 5,000 nodes keeps none of their names")
    func countsOnly() throws {
        var machine = try RoundStateMachine(configuration: RoundConfiguration(maxParticipants: 5_000, quorumFraction: 1), currentVersion: 1)
        let nodes = (0..<5_000).map { "node-\($0)" }
        for node in nodes { machine.nodeSeen(node, at: 0) }
        guard case .openRound(let round) = machine.tick(at: 1) else {
            Issue.record("the round must open")
            return
        }
        #expect(round.invitedCount == 5_000)
        for node in nodes.dropLast() {
            #expect(try machine.updateAccepted(from: node, round: round.number, at: 2) == .none)
        }
        guard case .aggregate(let closed) = try machine.updateAccepted(from: nodes.last!, round: round.number, at: 3) else {
            Issue.record("the last update must close the round")
            return
        }
        #expect(closed.acceptedCount == 5_000)
        #expect(MemoryLayout<RoundStateMachine>.size < 512)
    }

    @Test("bad configurations are refused, naming the field")
    func configuration() {
        #expect(throws: CoordinatorError(.invalidConfiguration, "")) {
            try RoundStateMachine(configuration: RoundConfiguration(quorumFraction: 0), currentVersion: 0)
        }
        #expect(throws: CoordinatorError(.invalidConfiguration, "")) {
            try RoundStateMachine(configuration: RoundConfiguration(mode: .asynchronous(bufferSize: 0)), currentVersion: 0)
        }
    }
}
