import Foundation

/// One round of a process fleet, as the coordinator's API showed it closing
/// (one JSON line each in `rounds.jsonl`; keys in snake case, as `fleet-sim` encodes them).
public struct ProcessRoundSummary: Sendable, Codable, Equatable {
    public var round: UInt64
    /// The gate's verdict on the round's candidate (promoted, rejected, awaiting_approval),
    /// or abandoned: the round closed without a candidate (too few updates by its deadline).
    public var verdict: String
    /// Updates aggregated into the candidate (abandoned: accepted when last seen).
    public var updates: Int
    /// The nodes whose updates made the candidate.
    public var contributors: [String]
    /// Updates the gate's screening left out of the candidate (the whole round failed without that).
    public var leftOut = 0
    /// The candidate's version number; nil when abandoned.
    public var candidate: UInt64?
    /// The version serving after the round.
    public var version: UInt64
    /// Gold-suite score (collision-free %) of the version serving before the round, and of the candidate.
    public var goldBefore: Double?
    public var goldScore: Double?
    /// Why the gate rejected the candidate.
    public var reasons: [String]
    /// Gold-suite collision rate per family of the version serving before the round, and of the candidate.
    public var collisionBefore: [String: Double] = [:]
    public var candidateCollisionRate: [String: Double] = [:]
    /// SHA-256 of the candidate's checkpoint.
    public var candidateHash: String?
    /// Update bytes the coordinator received while the round collected; nil when the round's
    /// boundaries were not both seen (the counter is read between rounds only).
    public var bytesUp: Int?
    /// The candidate's checkpoint size (what every node downloads if it is published).
    public var modelBytes: Int?
    /// Seconds from the fleet's start until the round was seen closed.
    public var seconds: Double

    /// The line the terminal shows.
    public var line: String {
        let score = goldScore.map { String(format: "%.1f", $0) } ?? "–"
        let before = goldBefore.map { String(format: "%.1f", $0) } ?? "–"
        let up = bytesUp.map { " · up \(RoundSummary.bytes($0))" } ?? ""
        return "round \(round): updates \(updates)" + (leftOut > 0 ? " (\(leftOut) left out)" : "") + "\(up) · \(verdict)\(candidate.map { " v\($0)" } ?? "") → serving v\(version)"
            + " · gold \(before) → \(score)" + (reasons.isEmpty ? "" : " · \(reasons.joined(separator: "; "))")
            + " · \(String(format: "%.1f", seconds)) s"
    }
}

/// A whole process-fleet run: what `summary.json` holds after `fleet-sim --processes`.
public struct ProcessFleetSummary: Sendable, Codable, Equatable {
    public var nodes: Int
    /// Node ids by region.
    public var regions: [String: [String]]
    public var seed: UInt64
    public var rounds: [ProcessRoundSummary]
    /// The version serving when the fleet was stopped.
    public var finalVersion: UInt64
    /// How every process ended when the fleet was stopped.
    public var exits: [ProcessExit]
    /// Certificates, data directories and logs of the run.
    public var directory: String
    public var seconds: Double
}

extension SimulationSummary {
    /// What a process-fleet run can show in `report.html`: the gate's numbers
    /// round by round and the update bytes the coordinator counted. Captures
    /// and expert use stay inside the node processes, so they are empty.
    ///
    /// - Parameter regionFamilies: the families each region's episodes are drawn from.
    public init(processFleet run: ProcessFleetSummary, regionFamilies: [String: [String]]) {
        var rounds: [RoundSummary] = []
        var serving: (score: Double?, rates: [String: Double]) = (nil, [:])
        for round in run.rounds {
            if serving.score == nil, let before = round.goldBefore { serving = (before, round.collisionBefore) }
            if round.verdict == "promoted" { serving = (round.goldScore, round.candidateCollisionRate) }
            var summary = RoundSummary(
                round: Int(round.round), captures: [:], capturesByRegion: [:], crashes: 0, updatesSent: round.updates,
                updatesAccepted: round.updates, updatesRejected: 0, bytesUp: round.bytesUp ?? 0, denseBytesUp: 0, bytesDown: 0,
                verdict: round.verdict, version: round.version, goldScore: serving.score, collisionRate: serving.rates,
                reasons: round.reasons, candidateHash: round.candidateHash, seconds: round.seconds)
            summary.candidateCollisionRate = round.candidateCollisionRate
            summary.updatesLeftOut = round.leftOut
            rounds.append(summary)
        }
        let first = run.rounds.first { $0.goldBefore != nil }
        self.init(
            nodes: run.nodes, rounds: rounds, regions: run.regions, seed: run.seed, transport: "processes (mutual TLS on 127.0.0.1)",
            goldBefore: first?.goldBefore, goldAfter: serving.score ?? first?.goldBefore,
            collisionBefore: first?.collisionBefore ?? [:], collisionAfter: serving.score == nil ? first?.collisionBefore ?? [:] : serving.rates,
            expertUseByRegion: [:], regionFamilies: regionFamilies,
            finalModelHash: run.rounds.last { $0.verdict == "promoted" }?.candidateHash ?? "the seed model",
            finalVersion: run.finalVersion, seconds: run.seconds)
    }
}
