/// The elementwise nonlinearity inside each expert.
///
/// - `relu`: max(0, x); the cheapest, piecewise linear.
/// - `gelu`: x·Φ(x) = ½x(1 + erf(x/√2)), the exact (erf) form PyTorch's
///   `nn.GELU()` uses; smooth, so finite-difference checks are meaningful.
/// - `tanh`: smooth and bounded.
///
/// The derivative is computed from the pre-activation x: relu' = [x > 0],
/// gelu' = Φ(x) + x·φ(x) with φ the standard normal density, tanh' = 1 − tanh²(x).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case relu
    case gelu
    case tanh

    /// Applies the activation elementwise.
    public func forward(_ input: Tensor) -> Tensor {
        var output = input
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                apply(x.baseAddress!, y.baseAddress!, count: x.count)
            }
        }
        return output
    }

    /// The gradient with respect to the input, given the input and the gradient of the output.
    public func backward(input: Tensor, gradOutput: Tensor) -> Tensor {
        precondition(input.shape == gradOutput.shape, "activation backward: shapes differ")
        var gradInput = gradOutput
        input.withUnsafeBufferPointer { x in
            gradInput.withUnsafeMutableBufferPointer { g in
                multiplyByDerivative(x.baseAddress!, g.baseAddress!, count: x.count)
            }
        }
        return gradInput
    }

    /// y[i] = f(x[i]); `x` and `y` may alias.
    @inline(__always)
    func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu:
            for i in 0..<count { y[i] = Swift.max(x[i], 0) }
        case .gelu:
            var i = 0
            while i + 8 <= count {
                FastMath.store(FastMath.gelu(FastMath.load(x, i)), y, i)
                i += 8
            }
            while i < count {
                y[i] = Self.gelu(x[i])
                i += 1
            }
        case .tanh:
            for i in 0..<count { y[i] = FastMath.tanh(x[i]) }
        }
    }

    /// y[i] = f(x[i]) and d[i] = f'(x[i]) in one pass, so the backward pass is
    /// a multiplication instead of a second round of transcendental functions.
    @inline(__always)
    func applyWithDerivative(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, count: Int
    ) {
        switch self {
        case .relu:
            for i in 0..<count {
                let positive = x[i] > 0
                y[i] = positive ? x[i] : 0
                d[i] = positive ? 1 : 0
            }
        case .gelu:
            var i = 0
            while i + 8 <= count {
                let (value, derivative) = FastMath.geluWithDerivative(FastMath.load(x, i))
                FastMath.store(value, y, i)
                FastMath.store(derivative, d, i)
                i += 8
            }
            while i < count {
                y[i] = Self.gelu(x[i])
                d[i] = Self.geluDerivative(x[i])
                i += 1
            }
        case .tanh:
            for i in 0..<count {
                let t = FastMath.tanh(x[i])
                y[i] = t
                d[i] = 1 - t * t
            }
        }
    }

    /// g[i] *= f'(x[i]).
    @inline(__always)
    func multiplyByDerivative(_ x: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu:
            for i in 0..<count { g[i] = x[i] > 0 ? g[i] : 0 }
        case .gelu:
            for i in 0..<count { g[i] *= Self.geluDerivative(x[i]) }
        case .tanh:
            for i in 0..<count {
                let t = FastMath.tanh(x[i])
                g[i] *= 1 - t * t
            }
        }
    }

    /// Scalar GELU, the same arithmetic as one lane of ``FastMath/geluWithDerivative(_:)``.
    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        FastMath.geluWithDerivative(FastMath.Vector(repeating: x)).value[0]
    }

    @inline(__always)
    static func geluDerivative(_ x: Float) -> Float {
        FastMath.geluWithDerivative(FastMath.Vector(repeating: x)).derivative[0]
    }
}
