/// How a round's updates become one change to the shared model.
public struct AggregationConfiguration: Sendable, Equatable {
    /// How the updates of one tensor are combined.
    public enum Rule: Sendable, Equatable {
        /// Federated averaging, weighted per expert by the samples each node
        /// routed to it. Streaming: memory is O(model), whatever the number of nodes.
        case weightedMean
        /// Coordinate-wise mean after dropping the `fraction` largest and the
        /// `fraction` smallest values (Yin et al. 2018). Needs a buffer of updates.
        case trimmedMean(fraction: Double)
        /// Coordinate-wise median. Needs a buffer of updates.
        case median
    }

    /// Central differential privacy (DP-FedAvg, McMahan et al. 2018).
    ///
    /// Each update is clipped to `clipNorm`, the clipped updates are summed
    /// with equal weight, Gaussian noise of standard deviation
    /// `noiseMultiplier × clipNorm` is added to every coordinate of the model,
    /// and the sum is divided by the number of participants. Per-expert
    /// weights would let one node's influence exceed the clip, so they are
    /// not used under DP.
    public struct DifferentialPrivacy: Sendable, Equatable {
        public var clipNorm: Double
        public var noiseMultiplier: Double
        public var seed: UInt64

        public init(clipNorm: Double, noiseMultiplier: Double, seed: UInt64) {
            self.clipNorm = clipNorm
            self.noiseMultiplier = noiseMultiplier
            self.seed = seed
        }
    }

    public var rule: Rule
    /// Updates whose L2 norm is above this are refused (nil: no bound).
    public var normBound: Double?
    /// Updates whose L2 norm is above this are scaled down to it before they
    /// count (nil: no clipping). Bounds what one node can do to the model.
    public var clipNorm: Double?
    /// The most versions an update's base may lag behind the current model.
    public var maxStaleness: Int
    /// Staleness weighting: an update τ versions behind counts `(1 + τ)^−exponent`
    /// times its samples (the polynomial rule of FedBuff, Nguyen et al. 2022).
    public var stalenessExponent: Double
    /// The most updates a robust rule keeps for one round.
    public var bufferCapacity: Int
    public var privacy: DifferentialPrivacy?

    public init(
        rule: Rule = .weightedMean,
        normBound: Double? = nil,
        clipNorm: Double? = nil,
        maxStaleness: Int = 4,
        stalenessExponent: Double = 0.5,
        bufferCapacity: Int = 256,
        privacy: DifferentialPrivacy? = nil
    ) {
        self.rule = rule
        self.normBound = normBound
        self.clipNorm = clipNorm
        self.maxStaleness = maxStaleness
        self.stalenessExponent = stalenessExponent
        self.bufferCapacity = bufferCapacity
        self.privacy = privacy
    }

    /// Checks the values make sense together, naming the field that does not.
    public func validate() throws(AggregationError) {
        if case .trimmedMean(let fraction) = rule, !(0..<0.5).contains(fraction) {
            throw AggregationError(.invalidConfiguration, "rule.trimmedMean.fraction is \(fraction); it must be in [0, 0.5)")
        }
        if let normBound, !(normBound > 0) {
            throw AggregationError(.invalidConfiguration, "normBound is \(normBound); it must be positive")
        }
        if let clipNorm, !(clipNorm > 0) {
            throw AggregationError(.invalidConfiguration, "clipNorm is \(clipNorm); it must be positive")
        }
        if maxStaleness < 0 {
            throw AggregationError(.invalidConfiguration, "maxStaleness is \(maxStaleness); it must be ≥ 0")
        }
        if !(stalenessExponent >= 0) {
            throw AggregationError(.invalidConfiguration, "stalenessExponent is \(stalenessExponent); it must be ≥ 0")
        }
        if bufferCapacity < 1 {
            throw AggregationError(.invalidConfiguration, "bufferCapacity is \(bufferCapacity); it must be ≥ 1")
        }
        if let privacy {
            guard privacy.clipNorm > 0, privacy.noiseMultiplier >= 0 else {
                throw AggregationError(.invalidConfiguration, "privacy needs clipNorm > 0 and noiseMultiplier ≥ 0")
            }
            guard rule == .weightedMean else {
                throw AggregationError(.invalidConfiguration, "privacy works with rule weightedMean only")
            }
        }
    }
}
