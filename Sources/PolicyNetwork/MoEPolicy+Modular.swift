/// Modular training: which parts of the policy an optimizer may change.
///
/// A node adapts only the experts its edge cases are routed to (and, if asked,
/// the router); everything else must come back bit-identical so that its delta
/// is exactly zero there. Frozen parts get no gradient computed and are skipped
/// by every optimizer.
extension MoEPolicy {
    /// Lets the optimizer change expert `index` (or not).
    public mutating func setExpertTrainable(_ index: Int, _ trainable: Bool) throws(PolicyNetworkError) {
        try requireExpert(index)
        expertIsTrainable[index] = trainable
    }

    /// Freezes everything, then unfreezes exactly `experts` (and the router if asked).
    public mutating func trainOnly(experts indices: Set<Int>, router trainRouter: Bool) throws(PolicyNetworkError) {
        for index in indices { try requireExpert(index) }
        for e in expertIsTrainable.indices { expertIsTrainable[e] = indices.contains(e) }
        isRouterTrainable = trainRouter
    }

    /// Makes every expert and the router trainable.
    public mutating func unfreezeAll() {
        for e in expertIsTrainable.indices { expertIsTrainable[e] = true }
        isRouterTrainable = true
    }

    /// True when at least one part of the policy is trainable.
    public var hasTrainableParameters: Bool {
        isRouterTrainable || expertIsTrainable.contains(true)
    }
}
