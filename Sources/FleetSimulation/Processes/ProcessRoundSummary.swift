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
    /// The candidate's version number; nil when abandoned.
    public var candidate: UInt64?
    /// The version serving after the round.
    public var version: UInt64
    /// Gold-suite score (collision-free %) of the version serving before the round, and of the candidate.
    public var goldBefore: Double?
    public var goldScore: Double?
    /// Why the gate rejected the candidate.
    public var reasons: [String]
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
        return "round \(round): updates \(updates)\(up) · \(verdict)\(candidate.map { " v\($0)" } ?? "") → serving v\(version)"
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
