/// A small, fast, seedable pseudo-random generator (SplitMix64).
///
/// Every random draw in the simulator goes through this type so that a seed
/// fully determines a run: traffic placement, behaviour parameters, sensor
/// noise and dropout. Foundation's system generator is never used. SplitMix64
/// passes BigCrush, needs 8 bytes of state and is trivially `Codable`, which lets
/// a capture store the generator mid-episode and replay from there.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    /// The whole state of the generator.
    public private(set) var state: UInt64

    /// Creates a generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SeededGenerator.finalize(state)
    }

    /// A uniform draw in [0, 1) with 53 bits of precision.
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform draw in [lower, upper].
    public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * unit()
    }

    /// A standard normal draw (Box–Muller; one value per call keeps the state simple).
    public mutating func gaussian() -> Double {
        let u1 = max(unit(), 0x1.0p-53)
        let u2 = unit()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// The SplitMix64 output function (a strong 64-bit mixer).
    @inlinable
    static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Derives the seed of item `index` from a base seed: `mix(base, i)`.
    ///
    /// Variant i of a capture and episode i of a gold family use this, so any
    /// single variant can be rebuilt without generating the ones before it.
    public static func mix(_ base: UInt64, _ index: UInt64) -> UInt64 {
        finalize(base ^ finalize(index &+ 0x632B_E59B_D9B4_E019))
    }
}
