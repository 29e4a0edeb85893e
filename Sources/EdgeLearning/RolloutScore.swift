public import DrivingSimulator

/// How one closed-loop rollout went: the three things a node is judged on.
///
/// A collision (or leaving the road) is a failure; a near miss (true
/// time-to-collision under 1 s without a crash) is a warning; progress (metres
/// driven) keeps a policy from "solving" every scene by stopping.
public struct RolloutScore: Sendable, Equatable, Codable {
    public var crashed: Bool
    public var nearMiss: Bool
    /// Metres driven.
    public var progress: Double

    public init(crashed: Bool, nearMiss: Bool, progress: Double) {
        self.crashed = crashed
        self.nearMiss = nearMiss
        self.progress = progress
    }

    /// The score of an episode result.
    public init(_ result: EpisodeResult) {
        self.init(crashed: result.crashed, nearMiss: result.nearMiss, progress: result.distance)
    }

    /// A per-rollout difficulty for the curriculum: 0 for a clean run, 0.5 for
    /// a near miss, 1 for a crash.
    public var difficulty: Float { crashed ? 1 : (nearMiss ? 0.5 : 0) }
}

/// Rates over many rollouts: what a node reports before and after a lesson.
public struct RolloutSummary: Sendable, Equatable, Codable {
    public var rollouts: Int
    /// Share of rollouts that crashed.
    public var failureRate: Double
    /// Share that were near misses.
    public var nearMissRate: Double
    /// Mean metres driven.
    public var meanProgress: Double

    public init(_ scores: [RolloutScore]) {
        let n = Double(max(scores.count, 1))
        rollouts = scores.count
        failureRate = Double(scores.filter(\.crashed).count) / n
        nearMissRate = Double(scores.filter(\.nearMiss).count) / n
        meanProgress = scores.reduce(0) { $0 + $1.progress } / n
    }
}
