public import FleetWire

/// What a round's updates add up to, before the server optimizer applies it.
public struct AggregateResult: Sendable {
    /// The combined change per touched tensor (dense, row-major). Tensors no
    /// update touched are absent: their experts stay as they are.
    public var meanDelta: [String: [Float]]
    /// Whole new tensors (an added expert) from the proposal with the most
    /// routed samples, if any update proposed one.
    public var additions: [TensorDelta]
    /// The node that proposed ``additions``.
    public var additionProposer: String?
    /// The nodes whose updates count, in arrival order (empty when the
    /// aggregator did not track them; ``updateCount`` counts them either way).
    public var contributors: [String]
    /// How many updates were folded in.
    public var updateCount: Int
    /// Samples routed to each expert, summed over contributors.
    public var samplesPerExpert: [UInt64]
    /// Edge-case families of the contributors' captures, with how many updates named each.
    public var families: [String: Int]
    /// How many updates were scaled down by norm clipping.
    public var clippedUpdates: Int
    /// The standard deviation of the privacy noise on each averaged
    /// coordinate (`noiseMultiplier × clipNorm / participants`); nil without DP.
    public var noiseStandardDeviation: Double?
}
