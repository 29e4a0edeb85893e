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

    /// Zero gradients shaped like `architecture`.
    init(architecture: PolicyArchitecture) {
        router = Linear(inputs: architecture.inputs, outputs: architecture.experts)
        experts = Array(repeating: ExpertMLP(architecture: architecture), count: architecture.experts)
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
