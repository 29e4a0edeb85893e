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

    /// The default ``clipNorm``: twice the largest L2 norm of the real
    /// lessons in `Tests/AggregationRobustnessTests/Lessons` (8.4–23.6, 300
    /// variations each), so an honest update is hardly ever scaled and a ×100
    /// one counts as much as a lesson.
    public static let defaultClipNorm: Double = 50
    /// The default ``normBound``: twenty times the clip. Past it an update is
    /// not a lesson but a fault or an attack, and is refused.
    public static let defaultNormBound: Double = 1_000
    /// The default ``sampleCap``: about what a lesson of 100 variations
    /// routes to a busy expert (those lessons route 2,000–40,000 samples to
    /// most experts), so nodes with real lessons weigh about equally and no
    /// report, however large, weighs more.
    public static let defaultSampleCap: UInt64 = 4_096

    public var rule: Rule
    /// Updates whose L2 norm is above this are refused (nil: no bound).
    public var normBound: Double?
    /// Updates whose L2 norm is above this are scaled down to it before they
    /// count (nil: no clipping). Bounds what one node can do to the model.
    public var clipNorm: Double?
    /// The most routed samples one update counts for in any tensor's weight
    /// (nil: no cap, sample counts weigh as reported).
    ///
    /// Why: routing counts are self-reported. Capped, an update's weight in a
    /// tensor is `min(samples, sampleCap)`, so with its norm clipped to C one
    /// update moves a tensor's average by at most
    /// `sampleCap / (sampleCap + W_others) × (C + ‖mean of the others‖)`,
    /// where `W_others` is the others' weight there: among N nodes that each
    /// route at least `sampleCap / 2` samples to the tensor, at most twice
    /// its 1/N share. The cap sits where an honest lesson's per-expert counts
    /// already are, so honest nodes weigh about equally.
    public var sampleCap: UInt64?
    /// The largest routing count an update may report for one expert; more is
    /// refused as implausible (no lesson routes 2⁴⁰ samples), and sums of
    /// counts can then never overflow.
    public var maxRoutingCount: UInt64
    /// The most experts one update may add. Additions are structural changes
    /// a gate can hardly judge (an expert nobody routes to changes no
    /// drive), so they are few, each must carry routed samples, and one
    /// proposal per round wins.
    public var maxAddedExperts: Int
    /// The most experts a model may grow to.
    public var maxExperts: Int
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
        normBound: Double? = AggregationConfiguration.defaultNormBound,
        clipNorm: Double? = AggregationConfiguration.defaultClipNorm,
        sampleCap: UInt64? = AggregationConfiguration.defaultSampleCap,
        maxRoutingCount: UInt64 = 1 << 40,
        maxAddedExperts: Int = 1,
        maxExperts: Int = 64,
        maxStaleness: Int = 4,
        stalenessExponent: Double = 0.5,
        bufferCapacity: Int = 256,
        privacy: DifferentialPrivacy? = nil
    ) {
        self.rule = rule
        self.normBound = normBound
        self.clipNorm = clipNorm
        self.sampleCap = sampleCap
        self.maxRoutingCount = maxRoutingCount
        self.maxAddedExperts = maxAddedExperts
        self.maxExperts = maxExperts
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
        if let normBound, !(normBound > 0 && normBound.isFinite) {
            throw AggregationError(.invalidConfiguration, "normBound is \(normBound); it must be positive")
        }
        if let clipNorm, !(clipNorm > 0 && clipNorm.isFinite) {
            throw AggregationError(.invalidConfiguration, "clipNorm is \(clipNorm); it must be positive")
        }
        if let sampleCap, sampleCap < 1 {
            throw AggregationError(.invalidConfiguration, "sampleCap is \(sampleCap); it must be ≥ 1")
        }
        if !(1...(1 << 48)).contains(maxRoutingCount) {
            throw AggregationError(.invalidConfiguration, "maxRoutingCount is \(maxRoutingCount); it must be in 1…2⁴⁸")
        }
        if maxAddedExperts < 0 {
            throw AggregationError(.invalidConfiguration, "maxAddedExperts is \(maxAddedExperts); it must be ≥ 0")
        }
        if !(1...(1 << 12)).contains(maxExperts) {
            throw AggregationError(.invalidConfiguration, "maxExperts is \(maxExperts); it must be in 1…4096")
        }
        if maxStaleness < 0 {
            throw AggregationError(.invalidConfiguration, "maxStaleness is \(maxStaleness); it must be ≥ 0")
        }
        if !(stalenessExponent >= 0 && stalenessExponent.isFinite) {
            throw AggregationError(.invalidConfiguration, "stalenessExponent is \(stalenessExponent); it must be ≥ 0")
        }
        if bufferCapacity < 1 {
            throw AggregationError(.invalidConfiguration, "bufferCapacity is \(bufferCapacity); it must be ≥ 1")
        }
        if let privacy {
            guard privacy.clipNorm > 0, privacy.clipNorm.isFinite, privacy.noiseMultiplier >= 0, privacy.noiseMultiplier.isFinite else {
                throw AggregationError(.invalidConfiguration, "privacy needs clipNorm > 0 and noiseMultiplier ≥ 0")
            }
            guard rule == .weightedMean else {
                throw AggregationError(.invalidConfiguration, "privacy works with rule weightedMean only")
            }
        }
    }
}
