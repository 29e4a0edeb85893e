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
            for i in 0..<count { y[i] = Self.gelu(x[i]) }
        case .tanh:
            for i in 0..<count { y[i] = FastMath.tanh(x[i]) }
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

    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + FastMath.erf(x * 0.707_106_77))
    }

    @inline(__always)
    static func geluDerivative(_ x: Float) -> Float {
        let cdf = 0.5 * (1 + FastMath.erf(x * 0.707_106_77))
        let pdf = 0.398_942_28 * FastMath.exp(-0.5 * x * x)
        return cdf + x * pdf
    }
}
