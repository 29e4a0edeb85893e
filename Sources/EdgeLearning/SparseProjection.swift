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
    /// The kept entries are the ones ``DeltaCompressor`` would send: the
    /// largest |Δ|, ties at the threshold lowest index first.
    public static func project(_ policy: inout MoEPolicy, onto base: MoEPolicy, fraction: Double) {
        guard fraction > 0, fraction < 1 else { return }
        let local = policy.parameterSet(), reference = base.parameterSet()
        var projected = local
        var changed = false
        var selection = LargestChanges()
        for element in local {
            guard let before = reference[element.name], before.shape == element.tensor.shape else { continue }
            let after = element.tensor.scalars
            guard after != before.scalars else { continue }
            let keep = min(after.count, max(1, Int((fraction * Double(after.count)).rounded(.up))))
            guard keep < after.count else { continue }
            let scalars = selection.keepLargest(keep, of: after, from: before.scalars)
            try! projected.replace(element.name, with: Tensor(shape: before.shape, scalars: scalars))
            changed = true
        }
        if changed { try! policy.load(projected) }
    }
}

/// Finds the largest changes of a tensor by a radix select on their magnitudes.
///
/// The bit pattern of a non-negative float orders as the float does, so the
/// k-th largest |Δ| is found digit by digit, most significant byte first: one
/// 256-bucket histogram per byte over the entries that still match, a few
/// linear passes with no reordering. Holds its buffers between tensors.
struct LargestChanges {
    private var magnitudes: [UInt32] = []
    private var histogram = [Int](repeating: 0, count: 256)

    /// `before` with the `keep` entries where |after − before| is largest taken from `after`.
    ///
    /// Entries above the k-th largest magnitude are kept, then entries equal to
    /// it, lowest index first, until `keep` are kept.
    mutating func keepLargest(_ keep: Int, of after: [Float], from before: [Float]) -> [Float] {
        precondition(after.count == before.count && keep > 0 && keep <= after.count, "keepLargest: bad sizes")
        magnitudes.removeAll(keepingCapacity: true)
        for i in after.indices { magnitudes.append((after[i] - before[i]).bitPattern & 0x7FFF_FFFF) }
        let (threshold, tiesToKeep) = kthLargest(keep)
        var result = before
        var ties = tiesToKeep
        for i in magnitudes.indices {
            let magnitude = magnitudes[i]
            if magnitude > threshold {
                result[i] = after[i]
            } else if magnitude == threshold && ties > 0 {
                result[i] = after[i]
                ties -= 1
            }
        }
        return result
    }

    /// The k-th largest magnitude (1-based) and how many entries equal to it are among the k largest.
    private mutating func kthLargest(_ k: Int) -> (value: UInt32, ties: Int) {
        var prefix: UInt32 = 0
        var remaining = k
        for shift in stride(from: 24, through: 0, by: -8) {
            let settled: UInt32 = shift == 24 ? 0 : UInt32.max << UInt32(shift + 8)
            for digit in 0..<256 { histogram[digit] = 0 }
            for magnitude in magnitudes where magnitude & settled == prefix {
                histogram[Int((magnitude >> UInt32(shift)) & 0xFF)] += 1
            }
            var digit = 255
            while histogram[digit] < remaining {
                remaining -= histogram[digit]
                digit -= 1
            }
            prefix |= UInt32(digit) << UInt32(shift)
        }
        return (prefix, remaining)
    }
}
