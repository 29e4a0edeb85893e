/// Runs training steps on a ``MoEPolicy``: forward, loss, backward, clipping, optimizer.
///
/// The trainer owns everything a step needs besides the policy — workspace,
/// gradient buffers, optimizer state — and reuses it from step to step, so a
/// step allocates nothing proportional to the batch or the model. The policy
/// is passed `inout` and stays a plain value the caller owns.
///
/// Loss = task loss + `auxiliaryLossWeight` · E·Σ_e f_e·P̄_e (the Switch
/// Transformer load-balancing term, 1 when routing is perfectly balanced).
public final class MoETrainer {
    /// The update rule (Adam by default).
    public var optimizer: any Optimizer
    /// α of the load-balancing loss; 0.01 as in the Switch Transformer.
    public var auxiliaryLossWeight: Float
    /// Clip gradients to this global norm before the update (nil: no clipping).
    public var gradientClipNorm: Float?

    let workspace = MoEWorkspace()
    var gradients: MoEGradients?

    /// A trainer; workspace and gradient buffers are sized on the first step.
    public init(optimizer: any Optimizer = Adam(), auxiliaryLossWeight: Float = 0.01, gradientClipNorm: Float? = nil) {
        self.optimizer = optimizer
        self.auxiliaryLossWeight = auxiliaryLossWeight
        self.gradientClipNorm = gradientClipNorm
    }

    /// The training targets of one batch.
    public enum Targets {
        /// One action index per sample (cross-entropy over the output logits).
        case actions([Int])
        /// One target vector per sample, `[batch, actions]` (mean squared error).
        case values(Tensor)
    }

    /// What one step measured (before the update).
    public struct StepResult: Sendable {
        /// The task loss (cross-entropy or MSE).
        public var loss: Float
        /// The unweighted load-balancing loss E·Σ f_e·P̄_e.
        public var auxiliaryLoss: Float
        /// The global gradient norm before clipping (nil when clipping is off,
        /// which saves a pass over all gradients).
        public var gradientNorm: Float?
        /// Where the batch was routed.
        public var routing: RoutingStatistics
    }

    /// One step of training on `inputs` (`[batch, inputs]`).
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` or
    ///   ``PolicyNetworkError/Code/invalidArgument`` for inputs or targets that do
    ///   not fit; the policy is unchanged then.
    @discardableResult
    public func step(_ policy: inout MoEPolicy, inputs: Tensor, targets: Targets) throws(PolicyNetworkError) -> StepResult {
        var result = try computeGradients(policy, inputs: inputs, targets: targets)
        if let maxNorm = gradientClipNorm {
            result.gradientNorm = GradientClipping.clipByGlobalNorm(&gradients!, maxNorm: maxNorm, policy: policy)
        }
        optimizer.update(&policy, gradients: gradients!)
        return result
    }

    /// Forward and backward only: leaves the gradients in ``lastGradients``.
    @discardableResult
    public func computeGradients(
        _ policy: MoEPolicy, inputs: Tensor, targets: Targets
    ) throws(PolicyNetworkError) -> StepResult {
        let batch = try Self.validate(inputs, targets, policy.architecture)
        if gradients == nil || !gradients!.fits(policy) {
            gradients = MoEGradients(architecture: policy.architecture)
        }
        let ws = workspace
        let actions = policy.architecture.actions
        return inputs.withUnsafeBufferPointer { x in
            let routing = policy.forward(x.baseAddress!, batch: batch, workspace: ws)
            let loss: Float
            switch targets {
            case .actions(let labels):
                loss = labels.withUnsafeBufferPointer { y in
                    CrossEntropy.compute(ws.output.pointer, y.baseAddress!, ws.gradOutput.pointer, rows: batch, columns: actions)
                }
            case .values(let values):
                loss = values.withUnsafeBufferPointer { t in
                    MeanSquaredError.compute(ws.output.pointer, t.baseAddress!, ws.gradOutput.pointer, count: batch * actions)
                }
            }
            let auxiliary = MoEPolicy.loadBalancingLoss(routing)
            policy.backward(
                x.baseAddress!, workspace: ws, auxiliaryWeight: auxiliaryLossWeight, routing: routing, into: &gradients!)
            for e in policy.experts.indices where policy.expertIsTrainable[e] {
                guard let mask = policy.masks[e] else { continue }
                MoEPolicy.multiply(&gradients!.experts[e].fc1.weight, by: mask.fc1)
                MoEPolicy.multiply(&gradients!.experts[e].fc2.weight, by: mask.fc2)
            }
            return StepResult(loss: loss, auxiliaryLoss: auxiliary, gradientNorm: nil, routing: routing)
        }
    }

    /// The gradients of the last step or ``computeGradients(_:inputs:targets:)`` call.
    public var lastGradients: MoEGradients? { gradients }

    static func validate(_ inputs: Tensor, _ targets: Targets, _ architecture: PolicyArchitecture) throws(PolicyNetworkError) -> Int {
        guard inputs.rank == 2, inputs.shape[1] == architecture.inputs, inputs.shape[0] > 0 else {
            throw PolicyNetworkError(
                .shapeMismatch, "Inputs must be [batch ≥ 1, \(architecture.inputs)], got \(inputs.shape).",
                context: ["shape": "\(inputs.shape)"])
        }
        let batch = inputs.shape[0]
        switch targets {
        case .actions(let labels):
            guard labels.count == batch else {
                throw PolicyNetworkError(.shapeMismatch, "Need one action label per sample: \(labels.count) labels for \(batch) samples.")
            }
            if let bad = labels.first(where: { $0 < 0 || $0 >= architecture.actions }) {
                throw PolicyNetworkError(
                    .invalidArgument, "Action label \(bad) is outside 0..<\(architecture.actions).", context: ["label": "\(bad)"])
            }
        case .values(let values):
            guard values.shape == [batch, architecture.actions] else {
                throw PolicyNetworkError(
                    .shapeMismatch, "Value targets must be [\(batch), \(architecture.actions)], got \(values.shape).")
            }
        }
        return batch
    }
}

extension MoEPolicy {
    /// The output logits and routing of a batch, `[batch, inputs]` → `[batch, actions]`.
    ///
    /// For evaluation; reuse one workspace across calls. Nothing a backward
    /// pass would need is computed. The single-observation hot path is
    /// ``infer(_:workspace:)``.
    public func predict(
        _ inputs: Tensor, workspace: MoEWorkspace
    ) throws(PolicyNetworkError) -> (logits: Tensor, routing: RoutingStatistics) {
        guard inputs.rank == 2, inputs.shape[1] == architecture.inputs, inputs.shape[0] > 0 else {
            throw PolicyNetworkError(
                .shapeMismatch, "Inputs must be [batch ≥ 1, \(architecture.inputs)], got \(inputs.shape).")
        }
        let routing = inputs.withUnsafeBufferPointer { x in
            forward(x.baseAddress!, batch: inputs.shape[0], workspace: workspace, purpose: .inference)
        }
        return (workspace.outputTensor(), routing)
    }

    /// Where the router sends each row of `rows` (row-major, `inputs` values per row), without running any expert.
    ///
    /// The same statistics as ``predict(_:workspace:)`` gives for these rows, at
    /// the cost of the router alone: what picking the experts to train needs.
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` unless `rows` holds a
    ///   whole, non-zero number of rows.
    public func routing(
        of rows: UnsafeBufferPointer<Float>, workspace: MoEWorkspace
    ) throws(PolicyNetworkError) -> RoutingStatistics {
        let width = architecture.inputs
        guard let x = rows.baseAddress, rows.count > 0, rows.count % width == 0 else {
            throw PolicyNetworkError(
                .shapeMismatch, "Rows must be a non-zero multiple of \(width) values, got \(rows.count).")
        }
        return route(x, batch: rows.count / width, workspace: workspace)
    }
}
