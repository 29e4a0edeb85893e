import Foundation

/// One round of a simulation, as printed and logged (one JSON line each;
/// keys in snake case, as `fleet-sim` encodes them).
public struct RoundSummary: Sendable, Codable, Equatable {
    public var round: Int
    /// Captures taken this round, by family.
    public var captures: [String: Int]
    /// Captures taken this round, by region and family.
    public var capturesByRegion: [String: [String: Int]]
    /// Crashes while driving this round (the fleet's own episodes).
    public var crashes: Int
    public var updatesSent: Int
    public var updatesAccepted: Int
    public var updatesRejected: Int
    /// Lessons the nodes' own check withheld (they would have broken a family).
    public var lessonsWithheld = 0
    /// Accepted updates the gate's screening left out of the round's candidate
    /// (the whole round failed; the rest passed without them).
    public var updatesLeftOut = 0
    /// Compressed update bodies sent.
    public var bytesUp: Int
    /// The same updates as dense float32 models would be (what a plain FedAvg client sends).
    public var denseBytesUp: Int
    /// Model downloads after the round: version deltas, or whole zstd checkpoints for nodes further behind.
    public var bytesDown: Int
    /// promoted, rejected, awaiting_approval, abandoned, or none (no update).
    public var verdict: String
    /// The version serving after the round.
    public var version: UInt64
    /// Gold-suite score (collision-free %) of the version serving after the round.
    public var goldScore: Double?
    /// Gold-suite collision rate per family of the version serving after the round.
    public var collisionRate: [String: Double]
    /// Gold-suite collision rate per family of the round's candidate (promoted or not), as the gate drove it.
    public var candidateCollisionRate: [String: Double] = [:]
    /// Why a candidate was rejected.
    public var reasons: [String]
    /// SHA-256 of the round's candidate checkpoint, promoted or not (the same seed gives the same).
    public var candidateHash: String?
    public var seconds: Double


    /// The line the terminal shows.
    public var line: String {
        let families = captures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let score = goldScore.map { String(format: "%.1f", $0) } ?? "–"
        return "round \(round): captures [\(families.isEmpty ? "none" : families)] · updates \(updatesAccepted)/\(updatesSent) accepted"
            + (lessonsWithheld > 0 ? " · \(lessonsWithheld) withheld" : "")
            + (updatesLeftOut > 0 ? " · \(updatesLeftOut) left out" : "")
            + " · up \(Self.bytes(bytesUp)) (dense \(Self.bytes(denseBytesUp))) · down \(Self.bytes(bytesDown))"
            + " · \(verdict) → v\(version) · gold \(score) · \(String(format: "%.1f", seconds)) s"
    }

    static func bytes(_ count: Int) -> String {
        count >= 1 << 20 ? String(format: "%.1f MB", Double(count) / 1_048_576)
            : count >= 1 << 10 ? String(format: "%.1f KB", Double(count) / 1024) : "\(count) B"
    }
}

/// The whole run: what `summary.json` holds.
public struct SimulationSummary: Sendable, Codable {
    public var nodes: Int
    public var rounds: [RoundSummary]
    public var regions: [String: [String]]
    public var seed: UInt64
    public var transport: String
    /// Gold score and per-family collision rate of the seed model and of the final one.
    public var goldBefore: Double?
    public var goldAfter: Double?
    public var collisionBefore: [String: Double]
    public var collisionAfter: [String: Double]
    /// Decisions per expert (the router's top choice) while each region's cars drove, over the run.
    public var expertUseByRegion: [String: [Int]]
    /// Families each region's episodes are drawn from.
    public var regionFamilies: [String: [String]]
    /// SHA-256 of the final model's checkpoint (the same seed gives the same hash).
    public var finalModelHash: String
    public var finalVersion: UInt64
    /// The seed and final models (and the baselines') on the whole gold suite.
    public var gold: GoldComparison?
    public var seconds: Double

    public init(
        nodes: Int, rounds: [RoundSummary], regions: [String: [String]], seed: UInt64, transport: String,
        goldBefore: Double?, goldAfter: Double?, collisionBefore: [String: Double], collisionAfter: [String: Double],
        expertUseByRegion: [String: [Int]], regionFamilies: [String: [String]], finalModelHash: String, finalVersion: UInt64,
        gold: GoldComparison? = nil, seconds: Double
    ) {
        self.nodes = nodes
        self.rounds = rounds
        self.regions = regions
        self.seed = seed
        self.transport = transport
        self.goldBefore = goldBefore
        self.goldAfter = goldAfter
        self.collisionBefore = collisionBefore
        self.collisionAfter = collisionAfter
        self.expertUseByRegion = expertUseByRegion
        self.regionFamilies = regionFamilies
        self.finalModelHash = finalModelHash
        self.finalVersion = finalVersion
        self.gold = gold
        self.seconds = seconds
    }
}

/// A model's result on the whole gold suite.
public struct GoldResult: Sendable, Codable, Equatable {
    /// Collision-free % over every episode.
    public var score: Double
    /// Collision rate per family.
    public var collisionRate: [String: Double]

    public init(score: Double, collisionRate: [String: Double]) {
        self.score = score
        self.collisionRate = collisionRate
    }
}

/// Every model of the run on the whole gold suite after the last round
/// (the gate may drive a subset each round): the seed model, the fleet's,
/// and with baselines the centralized baseline's, the upper bound's and each local-only twin's.
public struct GoldComparison: Sendable, Codable, Equatable {
    /// The model every car started with.
    public var seed: GoldResult
    /// The fleet's final shared model.
    public var federated: GoldResult
    /// The centralized baseline: the fleet's network trained from scratch by DAgger
    /// on the base policy's ordinary driving and the variations of every capture the fleet took.
    public var centralized: GoldResult?
    /// Captures the centralized baseline learned from (every one the fleet's nodes took).
    public var centralizedCaptures: Int?
    /// Episodes it was trained on (ordinary driving plus the captures' variations).
    public var centralizedEpisodes: Int?
    /// One twin per region that learned only from its own captures, by region.
    public var localOnly: [String: GoldResult]
    /// The upper bound: the fleet's network trained centrally by DAgger on every
    /// family at gold difficulty (``BasePolicyTrainer/Configuration/upperBound(episodesPerFamily:)``).
    public var upperBound: GoldResult?

    /// The federated model's gain in gold score as a share of the upper bound's (nil without an upper bound above the seed).
    public var federatedShareOfUpperBound: Double? {
        guard let upperBound, upperBound.score > seed.score else { return nil }
        return (federated.score - seed.score) / (upperBound.score - seed.score)
    }

    /// The federated model's gain in gold score as a share of the centralized one's (nil without a centralized gain).
    public var federatedShareOfCentralized: Double? {
        guard let centralized, centralized.score > seed.score else { return nil }
        return (federated.score - seed.score) / (centralized.score - seed.score)
    }
}
