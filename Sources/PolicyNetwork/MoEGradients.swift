/// The gradient of a loss with respect to every parameter of a ``MoEPolicy``,
/// in the policy's own layout.
///
/// Frozen parts hold zeros. Optimizers read it; ``parameterSet(names:)`` turns
/// it into named tensors for inspection or for a gradient exchanged on the wire.
public struct MoEGradients: Sendable, Equatable {
    /// Gradient of the router's weight and bias.
    public internal(set) var router: Linear
    /// Gradients of each expert's layers.
    public internal(set) var experts: [ExpertMLP]
    /// Which parts are known to hold only zeros, so a step that freezes them
    /// does not clear them again (most of a node's experts are frozen).
    private var routerIsZero = true
    private var expertIsZero: [Bool]

    /// Zero gradients shaped like `architecture`.
    init(architecture: PolicyArchitecture) {
        router = Linear(inputs: architecture.inputs, outputs: architecture.experts)
        experts = Array(repeating: ExpertMLP(architecture: architecture), count: architecture.experts)
        expertIsZero = Array(repeating: true, count: architecture.experts)
    }

    /// Sets the router's gradient to zero (a no-op when it already is).
    mutating func zeroRouter() {
        guard !routerIsZero else { return }
        router.zero()
        routerIsZero = true
    }

    /// Sets expert `e`'s gradient to zero (a no-op when it already is).
    mutating func zeroExpert(_ e: Int) {
        guard !expertIsZero[e] else { return }
        experts[e].zero()
        expertIsZero[e] = true
    }

    /// Notes that the router's gradient is about to be written.
    mutating func willWriteRouter() { routerIsZero = false }

    /// Notes that expert `e`'s gradient is about to be written.
    mutating func willWriteExpert(_ e: Int) { expertIsZero[e] = false }

    public static func == (lhs: MoEGradients, rhs: MoEGradients) -> Bool {
        lhs.router == rhs.router && lhs.experts == rhs.experts
    }

    /// True when this buffer can hold the gradient of `policy`.
    func fits(_ policy: MoEPolicy) -> Bool {
        experts.count == policy.experts.count && router.weight.shape == policy.router.weight.shape
            && (experts.first?.fc1.weight.shape == policy.experts.first?.fc1.weight.shape)
            && (experts.first?.fc2.weight.shape == policy.experts.first?.fc2.weight.shape)
    }

    /// The gradients as named tensors, with the same names as the parameters.
    public func parameterSet() -> ParameterSet {
        var set = ParameterSet()
        try! set.append("router.weight", router.weight)
        try! set.append("router.bias", router.bias)
        for (e, expert) in experts.enumerated() {
            let p = MoEPolicy.expertPrefix(e)
            try! set.append(p + "fc1.weight", expert.fc1.weight)
            try! set.append(p + "fc1.bias", expert.fc1.bias)
            try! set.append(p + "fc2.weight", expert.fc2.weight)
            try! set.append(p + "fc2.bias", expert.fc2.bias)
        }
        return set
    }
}
