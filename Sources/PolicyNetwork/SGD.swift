/// Stochastic gradient descent with (heavy-ball) momentum.
///
/// v ← μ·v + g (+ λ·θ with weight decay λ), θ ← θ − η·v; the same update as
/// PyTorch's `torch.optim.SGD` (dampening 0, no Nesterov).
public struct SGD: Optimizer {
    /// Step size η.
    public var learningRate: Float
    /// Momentum μ (0 for plain SGD).
    public var momentum: Float
    /// L2 penalty λ added to the gradient.
    public var weightDecay: Float
    private var velocity = SlotState()

    /// An optimizer with the given step size, momentum and L2 penalty.
    public init(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public mutating func update(_ policy: inout MoEPolicy, gradients: MoEGradients) {
        velocity.fit(policy.tensorSizes)
        let offsets = velocity.offsets
        let lr = learningRate, mu = momentum, decay = weightDecay
        velocity.values.withUnsafeMutableBufferPointer { state in
            policy.updateTrainable(gradients: gradients) { slot, p, g in
                let v = state.baseAddress! + offsets[slot]
                for i in 0..<p.count {
                    let velocity = mu * v[i] + g[i] + decay * p[i]
                    v[i] = velocity
                    p[i] -= lr * velocity
                }
            }
        }
    }

    public mutating func reset() {
        velocity.clear()
    }
}
