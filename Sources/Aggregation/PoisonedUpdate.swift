public import FleetWire

/// The attack the robust aggregators are measured against: an honest update
/// scaled ×100 with its sign flipped (`BENCHMARKS.md`, "Robustness").
///
/// Kept here, beside the defences, so the benchmark, the tests and the
/// fleet simulation all attack the same way.
public enum PoisonedUpdate {
    /// `delta` with every value multiplied by `factor` (−100 by default), sent sparse.
    public static func make(from delta: PolicyDelta, factor: Float = -100) -> PolicyDelta {
        var poisoned = delta
        poisoned.tensors = delta.tensors.map { tensor in
            var indices: [UInt32] = [], values: [Float] = []
            tensor.forEachNonzero { index, value in
                indices.append(UInt32(index))
                values.append(factor * value)
            }
            return TensorDelta(name: tensor.name, role: tensor.role, shape: tensor.shape, payload: .sparse(indices: indices, values: values))
        }
        return poisoned
    }
}
