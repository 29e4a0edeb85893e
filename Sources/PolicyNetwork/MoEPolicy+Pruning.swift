/// Magnitude pruning of an expert's weights.
///
/// The smallest-magnitude weights of an expert contribute least to its output;
/// zeroing them shrinks what a delta has to carry and what the edge has to
/// compute. The mask is kept with the expert and re-applied after every
/// optimizer step, so later training cannot bring a pruned weight back.
extension MoEPolicy {
    /// Zeroes the `fraction` of expert `index`'s weights (both matrices
    /// together, biases excluded) with the smallest magnitude and records the mask.
    ///
    /// Pruning an already pruned expert keeps its earlier zeros pruned (they are
    /// the smallest) and may add more. Ties at the threshold are broken by
    /// position, so the result is deterministic.
    ///
    /// - Returns: the mask now in force.
    @discardableResult
    public mutating func prune(expert index: Int, fraction: Double) throws(PolicyNetworkError) -> ExpertMask {
        try requireExpert(index)
        guard fraction >= 0, fraction <= 1 else {
            throw PolicyNetworkError(.invalidArgument, "Pruning fraction must be in 0...1, got \(fraction).")
        }
        let w1 = experts[index].fc1.weight, w2 = experts[index].fc2.weight
        let total = w1.count + w2.count
        let pruneCount = Int((fraction * Double(total)).rounded(.down))
        var order = Array(0..<total)
        func magnitude(_ i: Int) -> Float { i < w1.count ? abs(w1[i]) : abs(w2[i - w1.count]) }
        order.sort { a, b in
            let ma = magnitude(a), mb = magnitude(b)
            return ma != mb ? ma < mb : a < b
        }
        var mask = masks[index] ?? ExpertMask(
            fc1: Tensor(shape: w1.shape, repeating: 1), fc2: Tensor(shape: w2.shape, repeating: 1))
        for i in order.prefix(pruneCount) {
            if i < w1.count { mask.fc1[i] = 0 } else { mask.fc2[i - w1.count] = 0 }
        }
        masks[index] = mask
        applyMasks(expert: index)
        return mask
    }

    /// Removes expert `index`'s mask; its zeros stay zero until training moves them.
    public mutating func clearMask(expert index: Int) throws(PolicyNetworkError) {
        try requireExpert(index)
        masks[index] = nil
    }

    /// Sets every masked-out weight of every masked expert to +0.
    mutating func applyMasks() {
        for e in experts.indices where masks[e] != nil { applyMasks(expert: e) }
    }

    mutating func applyMasks(expert e: Int) {
        guard let mask = masks[e] else { return }
        Self.multiply(&experts[e].fc1.weight, by: mask.fc1)
        Self.multiply(&experts[e].fc2.weight, by: mask.fc2)
    }

    static func multiply(_ tensor: inout Tensor, by mask: Tensor) {
        mask.withUnsafeBufferPointer { m in
            tensor.withUnsafeMutableBufferPointer { t in
                for i in 0..<t.count { t[i] = m[i] == 0 ? 0 : t[i] }
            }
        }
    }
}
