/// Gradient clipping by global norm.
///
/// If ‖g‖ = √(Σ over all trainable tensors of Σ g²) exceeds `maxNorm`, every
/// gradient is scaled by maxNorm/‖g‖. One rare huge gradient (a collision
/// scene, a mislabeled sample) then moves the policy no further than a normal
/// one, while the direction is kept. Frozen parts do not count.
public enum GradientClipping {
    /// Clips `gradients` in place and returns the norm before clipping.
    @discardableResult
    public static func clipByGlobalNorm(
        _ gradients: inout MoEGradients, maxNorm: Float, policy: MoEPolicy
    ) -> Float {
        var squared: Double = 0
        if policy.isRouterTrainable { squared += gradients.router.weight.squaredNorm + gradients.router.bias.squaredNorm }
        for e in gradients.experts.indices where policy.expertIsTrainable[e] {
            let g = gradients.experts[e]
            squared += g.fc1.weight.squaredNorm + g.fc1.bias.squaredNorm + g.fc2.weight.squaredNorm + g.fc2.bias.squaredNorm
        }
        let norm = Float(squared.squareRoot())
        guard norm > maxNorm, norm > 0 else { return norm }
        let scale = maxNorm / norm
        // Frozen parts hold zeros, which scaling would leave as they are.
        if policy.isRouterTrainable { gradients.router.scale(by: scale) }
        for e in gradients.experts.indices where policy.expertIsTrainable[e] {
            gradients.experts[e].fc1.scale(by: scale)
            gradients.experts[e].fc2.scale(by: scale)
        }
        return norm
    }
}

extension Linear {
    mutating func scale(by factor: Float) {
        weight.withUnsafeMutableBufferPointer { w in for i in 0..<w.count { w[i] *= factor } }
        bias.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] *= factor } }
    }
}
