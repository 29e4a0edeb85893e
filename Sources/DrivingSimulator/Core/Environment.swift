/// Road surface and sensing conditions of an episode.
///
/// Friction bounds what the ego (and traffic) can do: the friction circle
/// `√(a_x² + a_y²) ≤ μ·g`. The other fields degrade only what a driver sees
/// (the observation); the privileged teacher ignores them.
public struct Environment: Sendable, Codable, Equatable {
    /// Tyre–road friction coefficient μ (dry asphalt ≈ 0.8, wet ≈ 0.5, ice ≈ 0.1–0.2).
    public var friction: Double
    /// How far the sensors see (fog), metres.
    public var visibility: Double
    /// Standard deviation of position noise, metres (speed noise is half of it, in m/s).
    public var sensorNoise: Double
    /// Probability that a detection is missing from a frame.
    public var dropout: Double
    /// Delay between the world and the observation the driver receives, seconds.
    public var latency: Double

    public init(friction: Double = 0.8, visibility: Double = 200, sensorNoise: Double = 0,
                dropout: Double = 0, latency: Double = 0) {
        self.friction = friction
        self.visibility = visibility
        self.sensorNoise = sensorNoise
        self.dropout = dropout
        self.latency = latency
    }

    /// The largest total acceleration the tyres can transmit, μ·g.
    @inline(__always) public var gripLimit: Double { friction * standardGravity }

    /// The sensor range beyond which nothing is ever observed, metres.
    public static let sensorRange = 150.0
}
