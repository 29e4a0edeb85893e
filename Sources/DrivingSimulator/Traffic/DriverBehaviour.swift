/// The parameters of one traffic driver: IDM car following and MOBIL lane changes.
///
/// The defaults are highway-env's published `IDMVehicle` values: maximum
/// acceleration a = 3 m/s², comfortable deceleration b = 5 m/s², time headway
/// T = 1.5 s, exponent δ = 4, jam distance s0 = 10 m measured centre to centre,
/// MOBIL politeness p = 0, acceleration gain threshold Δa_th = 0.2 m/s² and the
/// safe braking limit b_safe = 2 m/s² imposed on the new follower. Traffic is
/// built with per-vehicle randomized copies (see `randomized(using:spread:)`),
/// so a platoon is not a row of clones.
public struct DriverBehaviour: Sendable, Codable, Equatable {
    /// a: maximum acceleration, m/s².
    public var maxAcceleration: Double
    /// b: comfortable deceleration (positive), m/s².
    public var comfortableDeceleration: Double
    /// T: desired time headway, s.
    public var timeHeadway: Double
    /// δ: acceleration exponent.
    public var exponent: Double
    /// s0: minimum distance centre to centre, m.
    public var minimumGap: Double
    /// p: MOBIL politeness.
    public var politeness: Double
    /// Δa_th: MOBIL acceleration gain required to change lanes, m/s².
    public var laneChangeGain: Double
    /// b_safe: the largest deceleration a lane change may impose on the new follower, m/s².
    public var safeBraking: Double

    public init(maxAcceleration: Double, comfortableDeceleration: Double, timeHeadway: Double,
                exponent: Double, minimumGap: Double, politeness: Double,
                laneChangeGain: Double, safeBraking: Double) {
        self.maxAcceleration = maxAcceleration
        self.comfortableDeceleration = comfortableDeceleration
        self.timeHeadway = timeHeadway
        self.exponent = exponent
        self.minimumGap = minimumGap
        self.politeness = politeness
        self.laneChangeGain = laneChangeGain
        self.safeBraking = safeBraking
    }

    /// highway-env's `IDMVehicle` defaults.
    public static let highwayDefault = DriverBehaviour(
        maxAcceleration: 3, comfortableDeceleration: 5, timeHeadway: 1.5, exponent: 4,
        minimumGap: 10, politeness: 0, laneChangeGain: 0.2, safeBraking: 2)

    /// A copy with each parameter scaled by an independent factor in `[1 - spread, 1 + spread]`
    /// (politeness drawn in `[0, spread]`), so drivers differ in temper.
    public func randomized(using generator: inout SeededGenerator, spread: Double) -> DriverBehaviour {
        guard spread > 0 else { return self }
        func jitter(_ value: Double) -> Double { value * generator.uniform(1 - spread, 1 + spread) }
        var copy = self
        copy.maxAcceleration = jitter(maxAcceleration)
        copy.comfortableDeceleration = jitter(comfortableDeceleration)
        copy.timeHeadway = jitter(timeHeadway)
        copy.minimumGap = jitter(minimumGap)
        copy.politeness = generator.uniform(0, spread)
        copy.laneChangeGain = jitter(laneChangeGain)
        return copy
    }
}
