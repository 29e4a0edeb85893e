public import FleetWire
public import PolicyNetwork

/// Applies a policy delta to the model it was computed against: base + delta.
///
/// The inverse of ``DeltaBuilder``, and the very function (``DeltaPatch``) the
/// coordinator builds its versions with, so a node applying a published delta
/// gets the coordinator's weights bit for bit. A node uses it to check what its
/// compressed delta does before sending it; the fleet simulation uses it to
/// apply one node's lesson alone.
public enum DeltaApplier {
    /// `base` with `delta` applied.
    ///
    /// - Throws: ``LearningError/Code/deltaMismatch`` when the delta was made for
    ///   another architecture, names a tensor the model lacks, has the wrong
    ///   shape, or adds experts out of order. Nothing is applied then.
    public static func apply(_ delta: PolicyDelta, to base: MoEPolicy) throws(LearningError) -> MoEPolicy {
        do {
            return try DeltaPatch.apply(delta, to: base)
        } catch {
            throw LearningError(
                .deltaMismatch, error.message, context: ["delta": delta.architecture, "model": base.architecture.hash])
        }
    }
}
