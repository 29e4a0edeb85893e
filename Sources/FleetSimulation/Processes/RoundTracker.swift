import Coordinator
import FleetWire

/// Turns what the coordinator's API shows, look after look, into the rounds
/// that closed, in order.
///
/// Why it can tell: rounds are synchronous, so a round opens only after the
/// previous one has finished. A version's manifest names the round that made
/// it, so that round and every earlier one are over; a round in progress means
/// every earlier round is over. An earlier round that left no version was
/// abandoned. Update bytes per round come from the coordinator's running
/// counter, read at a round boundary: while round n is aggregated or gated,
/// or before round n + 1 has an update, the counter holds exactly the bytes
/// of rounds 1…n.
struct RoundTracker: Sendable {
    /// Rounds reported so far, in order.
    private(set) var closed: [ProcessRoundSummary] = []
    /// The counter's value at the end of each round's collecting (0 before round 1).
    private var bytesThrough: [UInt64: Int] = [0: 0]
    /// Updates accepted by each round when last seen collecting.
    private var accepted: [UInt64: Int] = [:]

    var lastReported: UInt64 { closed.last?.round ?? 0 }

    /// Records one look at the coordinator; returns the rounds newly seen closed, in order.
    mutating func record(_ observation: CoordinatorObservation, at seconds: Double) -> [ProcessRoundSummary] {
        // Round numbers start at 1; a 0 would only come from a broken answer.
        let round = observation.status.round.flatMap { $0.number > 0 ? $0 : nil }
        if let round, round.phase == "collecting" { accepted[round.number] = round.accepted }
        if let bytes = observation.updateBytesReceived, let round {
            if round.phase != "collecting" {
                bytesThrough[round.number] = bytes
            } else if round.accepted == 0 {
                bytesThrough[round.number - 1] = bytes
            }
        }
        let byRound = Dictionary(
            observation.versions.compactMap { listing in listing.manifest.round.map { ($0, listing) } },
            uniquingKeysWith: { first, _ in first })
        var over = byRound.keys.max() ?? 0
        if let round { over = max(over, round.number - 1) }
        if round == nil, let bytes = observation.updateBytesReceived, over > 0 {
            // Idle: nothing collects or finishes, so the counter holds every finished round.
            bytesThrough[over] = bytes
        }
        guard over > lastReported else { return [] }
        var reported: [ProcessRoundSummary] = []
        for number in (lastReported + 1)...over {
            let summary = summarize(number, listing: byRound[number], versions: observation.versions, at: seconds)
            closed.append(summary)
            reported.append(summary)
        }
        return reported
    }

    private func summarize(_ number: UInt64, listing: VersionListing?, versions: [VersionListing], at seconds: Double) -> ProcessRoundSummary {
        let bytes = bytesThrough[number].flatMap { end in bytesThrough[number - 1].map { end - $0 } }
        // The newest published version that existed once this round was over (the seed has no round).
        let serving = versions.filter { $0.status == "published" && ($0.manifest.round ?? 0) <= number }.map(\.version).max() ?? 1
        guard let listing else {
            return ProcessRoundSummary(
                round: number, verdict: "abandoned", updates: accepted[number] ?? 0, contributors: [], candidate: nil,
                version: serving, goldBefore: nil, goldScore: nil, reasons: [], bytesUp: bytes, modelBytes: nil, seconds: seconds)
        }
        let manifest = listing.manifest
        var summary = ProcessRoundSummary(
            round: number, verdict: manifest.gate?.verdict ?? listing.status,
            updates: manifest.aggregation?.updates ?? manifest.contributors.count, contributors: manifest.contributors,
            candidate: listing.version, version: serving, goldBefore: manifest.gate?.currentScore,
            goldScore: manifest.gate?.candidateScore, reasons: manifest.gate?.reasons ?? [], bytesUp: bytes,
            modelBytes: manifest.contentLength, seconds: seconds)
        let families = manifest.gate?.families ?? []
        summary.collisionBefore = Dictionary(families.map { ($0.family, $0.currentCollisionRate) }, uniquingKeysWith: { first, _ in first })
        summary.candidateCollisionRate = Dictionary(families.map { ($0.family, $0.candidateCollisionRate) }, uniquingKeysWith: { first, _ in first })
        summary.candidateHash = manifest.contentHash
        summary.leftOut = manifest.gate?.leftOut?.count ?? 0
        return summary
    }
}
