/// A small, fast, seeded pseudo-random generator (SplitMix64).
///
/// Everything random in the policy network (initialization, perturbation of a
/// cloned expert, synthetic data in tests) draws from this generator so that the
/// same seed gives bit-identical results on every machine. SplitMix64 passes
/// BigCrush, needs 8 bytes of state and is trivially splittable with ``mix(_:_:)``.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator whose whole output is determined by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Float in `[0, 1)` with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform Float in `[-bound, bound)`.
    public mutating func nextUniform(bound: Float) -> Float {
        (nextUnitFloat() * 2 - 1) * bound
    }

    /// A standard normal sample (Box–Muller, computed in Double).
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1.0p-53, 0x1.0p-60)
        let u2 = Double(next() >> 11) * 0x1.0p-53
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// Derives an independent seed from a base seed and a stream index, so that
    /// expert `i` (or variant `i`) has its own reproducible stream.
    public static func mix(_ base: UInt64, _ index: UInt64) -> UInt64 {
        var generator = SeededGenerator(seed: base ^ (index &* 0xD1B5_4A32_D192_ED03))
        _ = generator.next()
        return generator.next()
    }
}
