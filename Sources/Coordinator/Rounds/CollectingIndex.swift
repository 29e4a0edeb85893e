/// Hash indexes of the collecting round and its cached count of reachable
/// participants, so each request costs O(1) however many nodes a round has.
///
/// Why: ``RoundStateMachine/Round`` keeps its participants and accepted
/// nodes as arrays (ordered, stored as they are). Asking "is this node
/// invited? has it sent?" of an array, and counting the reachable
/// participants for the quorum by scanning all of them, costs O(nodes) per
/// upload and per task request — O(nodes²) per round, which at a few
/// thousand nodes was the coordinator's largest cost after TLS. The count of
/// reachable participants (accepted, or heard from within the heartbeat
/// timeout) only changes when time passes the first alive participant's
/// timeout, or when a node that was not alive is heard from again; it is
/// recounted then and reused otherwise.
struct CollectingIndex: Sendable {
    let round: UInt64
    private(set) var participants: Set<String>
    private(set) var accepted: Set<String>
    /// The reachable-participant count, the time it was counted, and the
    /// oldest `lastSeen` among the alive participants it counted (the count
    /// holds while that one is still alive).
    private var reachable: (count: Int, countedAt: Double, oldestAlive: Double?)?

    init(_ round: RoundStateMachine.Round) {
        self.round = round.number
        participants = Set(round.participants)
        accepted = Set(round.accepted)
    }

    mutating func accept(_ node: String) { accepted.insert(node) }

    /// Forgets the cached count (a node that was not alive was heard from).
    mutating func invalidateReachable() { reachable = nil }

    /// Participants that have sent or were heard from within `timeout` of `now`.
    mutating func reachableCount(at now: Double, lastSeen: [String: Double], timeout: Double, participantsInOrder: [String]) -> Int {
        if let cached = reachable, now >= cached.countedAt, cached.oldestAlive.map({ now - $0 <= timeout }) ?? true {
            return cached.count
        }
        var count = 0
        var oldest: Double?
        for node in participantsInOrder {
            if let seen = lastSeen[node], now - seen <= timeout {
                count += 1
                oldest = min(oldest ?? seen, seen)
            } else if accepted.contains(node) {
                count += 1
            }
        }
        reachable = (count, now, oldest)
        return count
    }
}
