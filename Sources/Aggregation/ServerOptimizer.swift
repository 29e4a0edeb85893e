/// Turns a round's averaged delta into the step the shared model takes.
///
/// FedAvg adds the average (times a server learning rate). FedAdam and FedYogi
/// (Reddi et al., "Adaptive Federated Optimization", 2021) treat the average
/// as a pseudo-gradient and keep per-coordinate moments across rounds, which
/// steadies learning when nodes see very different data — as a fleet whose
/// regions meet different edge cases does:
///
///     m ← β₁ m + (1 − β₁) Δ
///     v ← β₂ v + (1 − β₂) Δ²                       (Adam)
///     v ← v − (1 − β₂) Δ² sign(v − Δ²)             (Yogi)
///     x ← x + η m / (√v + τ)
///
/// Moments exist only for tensors some round touched; an untouched expert
/// keeps both its weights and its moments.
public struct ServerOptimizer: Sendable {
    public enum Kind: Sendable, Equatable, Codable {
        case fedAvg(learningRate: Float)
        case fedAdam(learningRate: Float, beta1: Float, beta2: Float, tau: Float)
        case fedYogi(learningRate: Float, beta1: Float, beta2: Float, tau: Float)

        public static let fedAvg = Kind.fedAvg(learningRate: 1)
        public static let fedAdam = Kind.fedAdam(learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3)
        public static let fedYogi = Kind.fedYogi(learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3)
    }

    public let kind: Kind
    /// First and second moments per tensor (adaptive kinds only).
    public private(set) var firstMoments: [String: [Float]] = [:]
    public private(set) var secondMoments: [String: [Float]] = [:]

    public init(kind: Kind = .fedAvg) { self.kind = kind }

    /// The change to add to the model's tensors for this round.
    public mutating func step(_ meanDelta: [String: [Float]]) -> [String: [Float]] {
        switch kind {
        case .fedAvg(let learningRate):
            return meanDelta.mapValues { $0.map { learningRate * $0 } }
        case .fedAdam(let learningRate, let beta1, let beta2, let tau):
            return adaptive(meanDelta, learningRate: learningRate, beta1: beta1, beta2: beta2, tau: tau, yogi: false)
        case .fedYogi(let learningRate, let beta1, let beta2, let tau):
            return adaptive(meanDelta, learningRate: learningRate, beta1: beta1, beta2: beta2, tau: tau, yogi: true)
        }
    }

    private mutating func adaptive(
        _ meanDelta: [String: [Float]], learningRate: Float, beta1: Float, beta2: Float, tau: Float, yogi: Bool
    ) -> [String: [Float]] {
        var steps: [String: [Float]] = [:]
        for (name, delta) in meanDelta {
            var m = firstMoments[name] ?? [Float](repeating: 0, count: delta.count)
            var v = secondMoments[name] ?? [Float](repeating: tau * tau, count: delta.count)
            var step = [Float](repeating: 0, count: delta.count)
            for index in delta.indices {
                let g = delta[index]
                m[index] = beta1 * m[index] + (1 - beta1) * g
                let g2 = g * g
                if yogi {
                    let difference = v[index] - g2
                    v[index] -= (1 - beta2) * g2 * (difference > 0 ? 1 : difference < 0 ? -1 : 0)
                } else {
                    v[index] = beta2 * v[index] + (1 - beta2) * g2
                }
                step[index] = learningRate * m[index] / (v[index].squareRoot() + tau)
            }
            firstMoments[name] = m
            secondMoments[name] = v
            steps[name] = step
        }
        return steps
    }
}
