public import PolicyNetwork

/// Adapts only the experts an edge case is routed to (and, if asked, the router).
///
/// Sparsity is what makes a fleet lesson cheap and safe: the router already
/// sends fog to a few experts, so only those need to learn about fog, the
/// delta carries only their tensors, and every other expert — how the fleet
/// drives on ice, in cities, on ramps — stays bit-identical. The experts are
/// picked by routing counts on the labelled states: most-used first, until
/// they hold `coverage` of the routed slots or `maxExperts` are picked.
/// The learner starts with one (see ``EdgeLearner/Configuration/widenUntil``):
/// the router sends each state to its top two, and the second expert of a
/// family is often one every family shares (braking behind a lead car, say),
/// so training it moves behaviour the gold suite depends on. Even the family's
/// own expert serves ordinary scenes of its kind (a lead that brakes gently),
/// so every step pulls the trained weights back towards the base in proportion
/// to how much the anchor's decisions depend on them
/// (``PolicyFitting/Configuration/pullTowardsReference``).
public struct ExpertAdapter: Sendable {
    /// Which experts and how they are trained.
    public struct Configuration: Sendable, Equatable {
        /// At most this many experts are trained.
        public var maxExperts: Int
        /// Stop picking once the picked experts hold this share of the routed slots.
        public var coverage: Double
        /// Whether the router is trained too (it then appears in the delta).
        public var trainRouter: Bool
        /// The training loop (epochs, learning rate, replay ratio, curriculum).
        public var fitting: PolicyFitting.Configuration
        /// States where the base disagrees with the teacher are drawn this many times per epoch.
        public var correctionWeight: Int
        /// The share of anchor states with the smallest logit margin (close calls) …
        public var closeCallShare: Double
        /// … is replayed this many times as often as the rest (1: uniform replay).
        public var closeCallWeight: Int

        public init(
            maxExperts: Int = 2, coverage: Double = 0.75, trainRouter: Bool = false, correctionWeight: Int = 4,
            closeCallShare: Double = 0.1, closeCallWeight: Int = 4,
            fitting: PolicyFitting.Configuration = PolicyFitting.Configuration(
                epochs: 4, batchSize: 256, learningRate: 1e-3, replayRatio: 0.75, curriculumStart: 0.5, maxSteps: 1_200,
                pullTowardsReference: 0.01, pullByImportance: true)
        ) {
            self.maxExperts = maxExperts
            self.coverage = coverage
            self.trainRouter = trainRouter
            self.fitting = fitting
            self.correctionWeight = correctionWeight
            self.closeCallShare = closeCallShare
            self.closeCallWeight = closeCallWeight
        }

        func validate() throws(LearningError) {
            guard maxExperts >= 1 else {
                throw LearningError(.invalidConfiguration, "adaptation.maxExperts must be ≥ 1, got \(maxExperts).", context: ["field": "adaptation.maxExperts"])
            }
            guard coverage > 0, coverage <= 1 else {
                throw LearningError(.invalidConfiguration, "adaptation.coverage must be in (0, 1], got \(coverage).", context: ["field": "adaptation.coverage"])
            }
            guard closeCallShare >= 0, closeCallShare <= 1 else {
                throw LearningError(.invalidConfiguration, "adaptation.closeCallShare must be in [0, 1], got \(closeCallShare).", context: ["field": "adaptation.closeCallShare"])
            }
            guard closeCallWeight >= 1 else {
                throw LearningError(.invalidConfiguration, "adaptation.closeCallWeight must be ≥ 1, got \(closeCallWeight).", context: ["field": "adaptation.closeCallWeight"])
            }
            try fitting.validate("adaptation.fitting")
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The experts to train for a routing histogram, most-used first.
    public static func selectExperts(samplesPerExpert counts: [Int], maxExperts: Int, coverage: Double) -> [Int] {
        let total = counts.reduce(0, +)
        guard total > 0 else { return [] }
        let ranked = counts.indices.sorted { (counts[$0], -$0) > (counts[$1], -$1) }
        var picked: [Int] = []
        var held = 0
        for expert in ranked where counts[expert] > 0 && picked.count < maxExperts {
            picked.append(expert)
            held += counts[expert]
            if Double(held) >= coverage * Double(total) { break }
        }
        return picked
    }

    /// Routes `data` through `policy`'s router and picks the experts to train.
    ///
    /// Only the router runs: the routing counts are all the choice needs.
    public func select(_ policy: MoEPolicy, data: TrainingSet) throws(LearningError) -> (experts: [Int], routing: RoutingStatistics) {
        let routing = try PolicyFitting.routing(policy, data: data)
        let experts = Self.selectExperts(
            samplesPerExpert: routing.samplesPerExpert, maxExperts: configuration.maxExperts, coverage: configuration.coverage)
        return (experts, routing)
    }

    /// Freezes everything but `experts` (and the router if configured) and fits them to `data` with replay of `anchor`.
    ///
    /// - Parameter base: the model the delta will be taken against; with
    ///   `fitting.deltaFraction` set, the change from it is kept sparse.
    public func adapt(
        _ policy: inout MoEPolicy, experts: [Int], data: TrainingSet, anchor: TrainingSet?, base: MoEPolicy? = nil, seed: UInt64
    ) throws(LearningError) -> PolicyFitting.Result {
        try configuration.validate()
        var anchor = anchor
        anchor?.emphasizeCloseCalls(share: configuration.closeCallShare, factor: configuration.closeCallWeight)
        do { try policy.trainOnly(experts: Set(experts), router: configuration.trainRouter) } catch {
            throw LearningError(.incompatiblePolicy, "Cannot select experts \(experts): \(error.message)")
        }
        return try PolicyFitting(configuration: configuration.fitting).fit(
            &policy, data: data, anchor: anchor, sparseAround: base, seed: seed)
    }
}
