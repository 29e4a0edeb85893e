/// A rule that turns gradients into a parameter update.
///
/// Optimizers see the policy only through its trainable tensors (frozen experts
/// and a frozen router are skipped and stay bit-identical) and re-apply pruning
/// masks after every update, so pruned weights stay zero whatever the momentum.
/// Their per-parameter state is laid out like the trainable tensors; when the
/// policy's layout changes (an expert added or removed) the state starts over.
public protocol Optimizer: Sendable {
    /// Applies one update to `policy` from `gradients`.
    mutating func update(_ policy: inout MoEPolicy, gradients: MoEGradients)

    /// Forgets all state (moments, velocities, step count).
    mutating func reset()
}

/// Flat per-parameter optimizer state covering every tensor of a policy.
struct SlotState: Sendable {
    private(set) var layout: [Int] = []
    private(set) var offsets: [Int] = []
    var values: [Float] = []

    /// Makes the state fit `layout` (tensor sizes in canonical order), zeroing it if it changed.
    /// - Returns: true when the state was (re)created.
    @discardableResult
    mutating func fit(_ newLayout: [Int]) -> Bool {
        guard newLayout != layout else { return false }
        layout = newLayout
        offsets = []
        var total = 0
        for size in newLayout {
            offsets.append(total)
            total += size
        }
        values = Array(repeating: 0, count: total)
        return true
    }

    mutating func clear() {
        layout = []
        offsets = []
        values = []
    }
}

extension MoEPolicy {
    /// Sizes of the tensors in canonical order (router weight, bias, then four per expert).
    var tensorSizes: [Int] {
        var sizes = [router.weight.count, router.bias.count]
        for expert in experts {
            sizes += [expert.fc1.weight.count, expert.fc1.bias.count, expert.fc2.weight.count, expert.fc2.bias.count]
        }
        return sizes
    }

    /// Calls `body(slot, parameters, gradient)` for every trainable tensor, then
    /// re-applies the pruning masks. `slot` indexes ``tensorSizes``.
    mutating func updateTrainable(
        gradients: MoEGradients,
        _ body: (Int, UnsafeMutableBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void
    ) {
        precondition(gradients.fits(self), "gradients do not match the policy's layout")
        func visit(_ slot: Int, _ parameter: inout Tensor, _ gradient: Tensor) {
            gradient.withUnsafeBufferPointer { g in
                parameter.withUnsafeMutableBufferPointer { p in body(slot, p, g) }
            }
        }
        if isRouterTrainable {
            visit(0, &router.weight, gradients.router.weight)
            visit(1, &router.bias, gradients.router.bias)
        }
        for e in experts.indices where expertIsTrainable[e] {
            let base = 2 + 4 * e
            visit(base, &experts[e].fc1.weight, gradients.experts[e].fc1.weight)
            visit(base + 1, &experts[e].fc1.bias, gradients.experts[e].fc1.bias)
            visit(base + 2, &experts[e].fc2.weight, gradients.experts[e].fc2.weight)
            visit(base + 3, &experts[e].fc2.bias, gradients.experts[e].fc2.bias)
            applyMasks(expert: e)
        }
    }
}
