/// Layer normalization over the last dimension with a learned scale and shift.
///
/// y = γ ⊙ x̂ + β with x̂ = (x − μ) / √(σ² + ε), μ and σ² the mean and (biased)
/// variance of each row. Normalizing each observation makes a layer insensitive
/// to the scale of its input, which matters when sensors change units or range.
///
/// Backward (per row, n features, g = dy ⊙ γ):
/// dx = (1/σ̂) (g − mean(g) − x̂ · mean(g ⊙ x̂)), dγ = Σ_rows dy ⊙ x̂, dβ = Σ_rows dy.
public struct LayerNorm: Sendable, Equatable {
    /// Scale γ, shape `[features]`.
    public var gamma: Tensor
    /// Shift β, shape `[features]`.
    public var beta: Tensor
    /// Added to the variance before the square root.
    public var epsilon: Float

    /// γ = 1, β = 0.
    public init(features: Int, epsilon: Float = 1e-5) {
        gamma = Tensor(shape: [features], repeating: 1)
        beta = Tensor(shape: [features])
        self.epsilon = epsilon
    }

    /// The gradients of one backward pass.
    public struct Gradients: Sendable {
        /// dL/dγ, shape `[features]`.
        public var gamma: Tensor
        /// dL/dβ, shape `[features]`.
        public var beta: Tensor
        /// dL/dx, shape of the input.
        public var input: Tensor
    }

    /// Normalizes each row of `[rows, features]`.
    public func forward(_ input: Tensor) -> Tensor {
        normalize(input).output
    }

    /// Gradients of γ, β and the input for one batch.
    public func backward(input: Tensor, gradOutput: Tensor) -> Gradients {
        let (_, normalized, inverseStd) = normalize(input)
        let rows = input.shape[0], n = input.shape[1]
        var gradients = Gradients(gamma: Tensor(shape: [n]), beta: Tensor(shape: [n]), input: Tensor(shape: input.shape))
        for r in 0..<rows {
            var meanG: Float = 0
            var meanGX: Float = 0
            for j in 0..<n {
                let dy = gradOutput[r * n + j]
                let xhat = normalized[r * n + j]
                gradients.gamma[j] += dy * xhat
                gradients.beta[j] += dy
                let g = dy * gamma[j]
                meanG += g
                meanGX += g * xhat
            }
            meanG /= Float(n)
            meanGX /= Float(n)
            for j in 0..<n {
                let g = gradOutput[r * n + j] * gamma[j]
                gradients.input[r * n + j] = inverseStd[r] * (g - meanG - normalized[r * n + j] * meanGX)
            }
        }
        return gradients
    }

    private func normalize(_ input: Tensor) -> (output: Tensor, normalized: Tensor, inverseStd: [Float]) {
        precondition(input.rank == 2 && input.shape[1] == gamma.count, "layer norm expects [rows, \(gamma.count)]")
        let rows = input.shape[0], n = input.shape[1]
        var normalized = Tensor(shape: input.shape)
        var output = Tensor(shape: input.shape)
        var inverseStd = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var mean: Float = 0
            for j in 0..<n { mean += input[r * n + j] }
            mean /= Float(n)
            var variance: Float = 0
            for j in 0..<n {
                let d = input[r * n + j] - mean
                variance += d * d
            }
            variance /= Float(n)
            let inv = 1 / (variance + epsilon).squareRoot()
            inverseStd[r] = inv
            for j in 0..<n {
                let xhat = (input[r * n + j] - mean) * inv
                normalized[r * n + j] = xhat
                output[r * n + j] = gamma[j] * xhat + beta[j]
            }
        }
        return (output, normalized, inverseStd)
    }
}
