public import PolicyNetwork

/// Moves a policy part of the way from the base to a local checkpoint: base + α · (local − base).
///
/// Why: a lesson that fixes its family can still cost ordinary driving a
/// little, where the base survives close calls by a hair. Along the straight
/// line from the base to the checkpoint the lesson's gain can saturate before
/// its side effects do, so a shorter step (α < 1) may keep most of the fix
/// with a smaller change elsewhere. The node tries the step sizes of
/// ``EdgeLearner/Configuration/shrinkFactors``, shortest first, and keeps the
/// first that still removes ``EdgeLearner/Configuration/shortestStepKeeping``
/// of the checkpoint's failures on the variations.
public enum DeltaShrinking {
    /// base + α · (local − base); both must have the same architecture (no grown experts).
    public static func interpolate(base: MoEPolicy, local: MoEPolicy, fraction alpha: Float) throws(LearningError) -> MoEPolicy {
        let baseSet = base.parameterSet()
        var result = base
        do {
            var parameters = baseSet
            try parameters.add(try local.parameterSet().subtracting(baseSet), scaledBy: alpha)
            try result.load(parameters)
        } catch {
            throw LearningError(.deltaMismatch, "Cannot shrink the change: \(error.message)")
        }
        return result
    }

    /// The base with only expert `expert` taken from `local`: the lesson narrowed to one expert.
    public static func keepingOnly(expert: Int, base: MoEPolicy, local: MoEPolicy) throws(LearningError) -> MoEPolicy {
        var parameters = base.parameterSet()
        var result = base
        do {
            for entry in try local.parameterSet(expert: expert) { try parameters.replace(entry.name, with: entry.tensor) }
            try result.load(parameters)
        } catch {
            throw LearningError(.deltaMismatch, "Cannot narrow the change to expert \(expert): \(error.message)")
        }
        return result
    }
}
