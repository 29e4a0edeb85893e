public import PolicyNetwork

/// Keeps a policy's change from its base sparse: only the largest `fraction` of each tensor's changes survive.
///
/// A delta is sent top-k sparsified; if training spreads a lesson thinly over
/// every weight, the few percent that are sent carry only part of it, and the
/// fleet gets a weaker lesson than the node learned. Projecting the change
/// onto its own top-k after every epoch (iterative hard thresholding, as in
/// Blumensath & Davies 2009) makes training find a lesson that *is* sparse,
/// so the compressed delta keeps nearly all of the improvement:
///
///     Δ = local − base,   local ← base + topK_fraction(Δ)   (per tensor)
public enum SparseProjection {
    /// Projects every tensor of `policy` that differs from `base` (same shape) onto its top-`fraction` change.
    ///
    /// Tensors the base lacks (a grown expert) are left alone: they travel whole.
    public static func project(_ policy: inout MoEPolicy, onto base: MoEPolicy, fraction: Double) {
        guard fraction > 0, fraction < 1 else { return }
        let local = policy.parameterSet(), reference = base.parameterSet()
        var projected = local
        var changed = false
        for element in local {
            guard let before = reference[element.name], before.shape == element.tensor.shape else { continue }
            let after = element.tensor.scalars
            guard after != before.scalars else { continue }
            var difference = after
            for i in difference.indices { difference[i] -= before.scalars[i] }
            let keep = min(difference.count, max(1, Int((fraction * Double(difference.count)).rounded(.up))))
            guard keep < difference.count else { continue }
            var scalars = before.scalars
            for index in DeltaCompressor.largestMagnitudes(of: difference, count: keep) {
                scalars[Int(index)] = after[Int(index)]
            }
            try! projected.replace(element.name, with: Tensor(shape: before.shape, scalars: scalars))
            changed = true
        }
        if changed { try! policy.load(projected) }
    }
}
