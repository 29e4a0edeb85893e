/// One expert: a two-layer perceptron `fc2(activation(fc1(x)))`.
///
/// Small on purpose: each expert only has to be good at the scenes the router
/// sends it, and a node adapts only the experts its edge cases reach, so the
/// delta it uploads is a few of these, not the whole model.
public struct ExpertMLP: Sendable, Equatable {
    /// `[hidden, inputs]` and `[hidden]`.
    public var fc1: Linear
    /// `[actions, hidden]` and `[actions]`.
    public var fc2: Linear

    /// An expert from its two layers.
    public init(fc1: Linear, fc2: Linear) {
        self.fc1 = fc1
        self.fc2 = fc2
    }

    /// A zero expert (the shape of a gradient).
    init(architecture: PolicyArchitecture) {
        fc1 = Linear(inputs: architecture.inputs, outputs: architecture.hidden)
        fc2 = Linear(inputs: architecture.hidden, outputs: architecture.actions)
    }

    /// A seeded expert: Kaiming-uniform for the layer before the nonlinearity,
    /// Xavier-uniform for the output layer, zero biases.
    init(architecture: PolicyArchitecture, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        fc1 = Linear(inputs: architecture.inputs, outputs: architecture.hidden, initialization: .kaiming, generator: &generator)
        fc2 = Linear(inputs: architecture.hidden, outputs: architecture.actions, initialization: .xavier, generator: &generator)
    }
}

/// Which weights of a pruned expert are kept (1) and which are pruned (0).
///
/// Masks cover the two weight matrices; biases are never pruned (they are few
/// and carry the expert's offset). Once set, every optimizer step multiplies the
/// masked weights by the mask again, so pruned weights stay exactly zero.
public struct ExpertMask: Sendable, Equatable {
    /// Same shape as `fc1.weight`.
    public var fc1: Tensor
    /// Same shape as `fc2.weight`.
    public var fc2: Tensor

    /// The fraction of weights pruned, over both matrices.
    public var prunedFraction: Double {
        let zeros = fc1.scalars.lazy.filter { $0 == 0 }.count + fc2.scalars.lazy.filter { $0 == 0 }.count
        return Double(zeros) / Double(fc1.count + fc2.count)
    }
}
