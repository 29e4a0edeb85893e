/// When to retry after the coordinator could not be reached.
///
/// Exponential backoff with "full jitter" (AWS Architecture Blog, 2015): the
/// n-th retry waits a uniformly random time in [0, min(cap, base·2ⁿ)]. The
/// randomness matters for fleets: after a coordinator restart thousands of
/// nodes would otherwise reconnect in lockstep waves. The jitter is seeded
/// per node, so a run is reproducible.
public struct Backoff: Sendable, Equatable {
    /// The first retry's ceiling, in seconds.
    public var base: Double
    /// The largest ceiling, in seconds.
    public var cap: Double
    /// Consecutive failures so far.
    public private(set) var failures = 0
    private var state: UInt64

    public init(base: Double = 0.5, cap: Double = 60, seed: UInt64) {
        precondition(base > 0 && cap >= base, "backoff needs 0 < base ≤ cap")
        self.base = base
        self.cap = cap
        state = seed
    }

    /// Records a failure and returns how long to wait before the next try.
    public mutating func nextDelay() -> Double {
        let ceiling = min(cap, base * Double(1 << min(failures, 30)))
        failures += 1
        return ceiling * nextUnit()
    }

    /// Records a failure and returns a delay in [ceiling / 2, ceiling] ("equal jitter").
    ///
    /// For refusals rather than outages: a coordinator (or a man in the middle)
    /// that answers at once with a model the node refuses must not be asked
    /// again at once, so the wait has a floor that doubles with each refusal,
    /// and n refusals in a row take at least base · (2ⁿ − 1) / 2 seconds (until the cap).
    public mutating func nextDelayAtLeastHalf() -> Double {
        let ceiling = min(cap, base * Double(1 << min(failures, 30)))
        failures += 1
        return ceiling / 2 + ceiling / 2 * nextUnit()
    }

    /// The ceiling the next delay will be drawn under.
    public var nextCeiling: Double { min(cap, base * Double(1 << min(failures, 30))) }

    /// A success: the next failure starts again from `base`.
    public mutating func reset() { failures = 0 }

    /// Uniform in [0, 1) from SplitMix64.
    private mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}
