/// Adam: per-parameter step sizes from running moments of the gradient.
///
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η·m̂ / (√v̂ + ε) with the
/// bias corrections m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) — the same arithmetic as
/// PyTorch's `torch.optim.Adam`. Robust to the very different gradient scales of
/// the router and the experts, which is why it is the default for training.
public struct Adam: Optimizer {
    /// Step size η.
    public var learningRate: Float
    /// Decay of the first-moment (mean) average.
    public var beta1: Float
    /// Decay of the second-moment (uncentered variance) average.
    public var beta2: Float
    /// Added to √v̂ so that parameters with tiny gradients do not take huge steps.
    public var epsilon: Float
    /// Updates applied since the last reset.
    public private(set) var step = 0
    private var firstMoment = SlotState()
    private var secondMoment = SlotState()

    /// PyTorch's defaults.
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public mutating func update(_ policy: inout MoEPolicy, gradients: MoEGradients) {
        let sizes = policy.tensorSizes
        if firstMoment.fit(sizes) {
            secondMoment.fit(sizes)
            step = 0
        }
        step += 1
        let offsets = firstMoment.offsets
        let b1 = beta1, b2 = beta2, eps = epsilon
        let correction1 = 1 - Float(_exp(Double(step) * _log(Double(beta1))))
        let correction2 = 1 - Float(_exp(Double(step) * _log(Double(beta2))))
        let stepSize = learningRate / correction1
        let inverseRootCorrection2 = 1 / correction2.squareRoot()
        firstMoment.values.withUnsafeMutableBufferPointer { mState in
            secondMoment.values.withUnsafeMutableBufferPointer { vState in
                policy.updateTrainable(gradients: gradients) { slot, p, g in
                    Self.update(
                        p.baseAddress!, g.baseAddress!, mState.baseAddress! + offsets[slot],
                        vState.baseAddress! + offsets[slot], count: p.count,
                        b1: b1, b2: b2, stepSize: stepSize, inverseRootCorrection2: inverseRootCorrection2, eps: eps)
                }
            }
        }
    }

    /// The elementwise Adam update, eight lanes at a time.
    @inline(__always)
    static func update(
        _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
        _ v: UnsafeMutablePointer<Float>, count: Int,
        b1: Float, b2: Float, stepSize: Float, inverseRootCorrection2: Float, eps: Float
    ) {
        var i = 0
        while i + 8 <= count {
            let gi = FastMath.load(g, i)
            let mi = b1 * FastMath.load(m, i) + (1 - b1) * gi
            let vi = b2 * FastMath.load(v, i) + (1 - b2) * gi * gi
            FastMath.store(mi, m, i)
            FastMath.store(vi, v, i)
            let step = stepSize * mi / (FastMath.squareRootOfNonNegative(vi) * inverseRootCorrection2 + eps)
            FastMath.store(FastMath.load(p, i) - step, p, i)
            i += 8
        }
        while i < count {
            let gi = g[i]
            let mi = b1 * m[i] + (1 - b1) * gi
            let vi = b2 * v[i] + (1 - b2) * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= stepSize * mi / (vi.squareRoot() * inverseRootCorrection2 + eps)
            i += 1
        }
    }

    public mutating func reset() {
        firstMoment.clear()
        secondMoment.clear()
        step = 0
    }
}
