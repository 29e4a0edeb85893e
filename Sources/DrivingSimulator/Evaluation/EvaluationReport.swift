/// The summary of one evaluated episode.
public struct EpisodeOutcome: Sendable, Codable, Equatable {
    public var id: String
    public var family: String
    public var collided: Bool
    public var offRoad: Bool
    public var collisionWith: String?
    public var nearMiss: Bool
    public var interventions: Int
    public var meanSpeed: Double
    public var rmsJerk: Double
    public var minTimeToCollision: Double?
    public var time: Double
    /// Collision or road departure.
    public var crashed: Bool { collided || offRoad }

    public init(
        id: String, family: String, collided: Bool, offRoad: Bool = false, collisionWith: String? = nil,
        nearMiss: Bool = false, interventions: Int = 0, meanSpeed: Double, rmsJerk: Double = 0,
        minTimeToCollision: Double? = nil, time: Double
    ) {
        self.id = id
        self.family = family
        self.collided = collided
        self.offRoad = offRoad
        self.collisionWith = collisionWith
        self.nearMiss = nearMiss
        self.interventions = interventions
        self.meanSpeed = meanSpeed
        self.rmsJerk = rmsJerk
        self.minTimeToCollision = minTimeToCollision
        self.time = time
    }
}

/// Scores of one family (or of the whole suite).
public struct FamilyScore: Sendable, Codable, Equatable {
    public var family: String
    public var episodes: Int
    /// Share of episodes with a collision or a road departure.
    public var collisionRate: Double
    /// 1 − collisionRate, in percent.
    public var collisionFreePercent: Double
    public var nearMissRate: Double
    /// Guardrail interventions per episode.
    public var interventionsPerEpisode: Double
    /// Mean of the episodes' mean speeds, m/s.
    public var meanSpeed: Double
    /// Mean of the episodes' RMS jerk, m/s³.
    public var rmsJerk: Double

    init(family: String, outcomes: [EpisodeOutcome]) {
        let n = Double(max(outcomes.count, 1))
        self.family = family
        episodes = outcomes.count
        collisionRate = Double(outcomes.filter(\.crashed).count) / n
        collisionFreePercent = 100 * (1 - collisionRate)
        nearMissRate = Double(outcomes.filter(\.nearMiss).count) / n
        interventionsPerEpisode = Double(outcomes.reduce(0) { $0 + $1.interventions }) / n
        meanSpeed = outcomes.reduce(0) { $0 + $1.meanSpeed } / n
        rmsJerk = outcomes.reduce(0) { $0 + $1.rmsJerk } / n
    }
}

/// The result of evaluating one driver on a suite: per family, overall, and per episode.
public struct EvaluationReport: Sendable, Codable, Equatable {
    public var driver: String
    public var families: [FamilyScore]
    public var overall: FamilyScore
    public var episodes: [EpisodeOutcome]

    public init(driver: String, episodes: [EpisodeOutcome]) {
        self.driver = driver
        self.episodes = episodes
        let names = Array(Set(episodes.map(\.family))).sorted()
        families = names.map { name in FamilyScore(family: name, outcomes: episodes.filter { $0.family == name }) }
        overall = FamilyScore(family: "all", outcomes: episodes)
    }

    /// A fixed-width text table, one row per family and a total.
    public func table() -> String {
        var lines = ["driver: \(driver)",
                     "family                 episodes  collision-free %  near-miss %  interventions/ep  mean speed m/s  rms jerk m/s³"]
        func row(_ score: FamilyScore) -> String {
            score.family.padded(22) + " " + String(score.episodes).leftAligned(9)
                + format(score.collisionFreePercent, 1).leftAligned(18)
                + format(100 * score.nearMissRate, 1).leftAligned(13)
                + format(score.interventionsPerEpisode, 2).leftAligned(18)
                + format(score.meanSpeed, 1).leftAligned(16) + format(score.rmsJerk, 2)
        }
        for score in families { lines.append(row(score)) }
        lines.append(row(overall))
        return lines.joined(separator: "\n")
    }
}

/// Fixed-point formatting without Foundation's locale machinery.
func format(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (abs(value) * scale).rounded()
    let whole = Int(rounded / scale)
    let fraction = Int(rounded - Double(whole) * scale)
    let sign = value < 0 && rounded > 0 ? "-" : ""
    if decimals == 0 { return sign + String(whole) }
    return sign + String(whole) + "." + String(fraction).leftPadded(to: decimals)
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
    func leftAligned(_ width: Int) -> String { padded(width) }
}
