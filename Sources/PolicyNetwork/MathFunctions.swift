#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Scalar libm entry points, named so call sites do not depend on which C
// library the platform ships.
@inline(__always) func _log(_ x: Double) -> Double { log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func _exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func _erf(_ x: Double) -> Double { erf(x) }
@inline(__always) func _tanhf(_ x: Float) -> Float { tanhf(x) }
@inline(__always) func _expf(_ x: Float) -> Float { expf(x) }
@inline(__always) func _logf(_ x: Float) -> Float { logf(x) }

/// Branch-free single-precision kernels that the compiler can vectorize.
///
/// The activations of an expert run over tens of thousands of elements per
/// training step; calling libm's `expf`/`erff` per element costs more than the
/// matrix products around them. These approximations are accurate to a few
/// units in the last place (exp) and 2e-7 absolute (erf), far below the noise
/// of Float32 training, and the derivative code uses the same functions, so
/// finite-difference checks see one consistent function.
enum FastMath {
    /// e^x for x in roughly [-87, 88] (clamped outside), relative error < 2e-7.
    ///
    /// Range reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for
    /// e^r, and 2^n assembled in the exponent bits. Rounding to nearest uses the
    /// 1.5·2^23 trick so no rounding instruction beyond SSE2 is needed.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.0), 88.0)
        let magic: Float = 12_582_912.0  // 1.5 * 2^23
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6
        var p: Float = 1.987_569_1e-4
        p = p * r + 1.398_199_9e-3
        p = p * r + 8.333_452e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 0.166_666_66
        p = p * r + 0.5
        p = p * r * r + r + 1
        let exponent = Int32(bitPattern: shifted.bitPattern &- magic.bitPattern) &+ 127
        let bits = UInt32(bitPattern: exponent) << 23
        return p * Float(bitPattern: bits)
    }

    /// erf(x), Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), odd-symmetric.
    @inline(__always)
    static func erf(_ x: Float) -> Float {
        let a = Swift.abs(x)
        let t = 1 / (1 + 0.327_591_1 * a)
        var poly: Float = 1.061_405_429
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        poly = poly * t
        let y = 1 - poly * exp(-a * a)
        return x < 0 ? -y : y
    }

    /// tanh(x) through e^(2x), exact at the saturating ends.
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -9.0), 9.0)
        let e = exp(2 * clamped)
        return (e - 1) / (e + 1)
    }
}

/// Eight-lane versions of the kernels above, lane-for-lane the same arithmetic
/// as the scalar forms, for the loops that dominate a training step.
extension FastMath {
    typealias Vector = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i &* 4, as: Vector.self)
    }

    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, toByteOffset: i &* 4, as: Vector.self)
    }

    /// e^x lane by lane; see ``exp(_:)-(Float)``.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        var clamped = x
        clamped.replace(with: 88, where: x .> 88)
        clamped.replace(with: -87, where: x .< -87)
        let magic = Vector(repeating: 12_582_912.0)
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6
        var p = Vector(repeating: 1.987_569_1e-4)
        p = p * r + 1.398_199_9e-3
        p = p * r + 8.333_452e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 0.166_666_66
        p = p * r + 0.5
        p = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- unsafeBitCast(magic, to: SIMD8<UInt32>.self)
            &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: Vector.self)
    }

    /// GELU and its derivative together: both need erf(|x|/√2) and e^{−x²/2},
    /// which is exactly the exponential inside that erf.
    @inline(__always)
    static func geluWithDerivative(_ x: Vector) -> (value: Vector, derivative: Vector) {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let sign = bits & 0x8000_0000
        let a = unsafeBitCast(bits & 0x7FFF_FFFF, to: Vector.self) * 0.707_106_77
        let t = 1 / (1 + 0.327_591_1 * a)
        var poly = Vector(repeating: 1.061_405_429)
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        poly = poly * t
        let gaussian = exp(-(a * a))
        let erfAbs = 1 - poly * gaussian
        let erf = unsafeBitCast(unsafeBitCast(erfAbs, to: SIMD8<UInt32>.self) | sign, to: Vector.self)
        let cdf = 0.5 * (1 + erf)
        return (x * cdf, cdf + x * (0.398_942_28 * gaussian))
    }

    /// √x lane by lane for x ≥ +0 (the sign bit is ignored), correctly rounded as `Float.squareRoot()` is.
    ///
    /// `SIMD8.squareRoot()` goes through the C library's `sqrtf`, which may set
    /// errno for a negative argument, so the compiler emits eight scalar
    /// roots, each behind a branch. With the sign bit cleared the argument
    /// cannot be negative, and the roots become two vector instructions.
    @inline(__always)
    static func squareRootOfNonNegative(_ x: Vector) -> Vector {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Vector.self).squareRoot()
    }

    /// GELU alone (same lanes as ``geluWithDerivative(_:)``).
    @inline(__always)
    static func gelu(_ x: Vector) -> Vector {
        geluWithDerivative(x).value
    }
}
