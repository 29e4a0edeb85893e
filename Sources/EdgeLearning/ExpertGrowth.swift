public import PolicyNetwork

/// Grows the policy by one expert when none of the existing ones can learn a family.
///
/// Adapting the routed experts works when they can represent the new scenes;
/// when the loss on the family's labelled states stays high after adapting,
/// squeezing more into them would crowd out what they already do. Then the
/// node proposes a new expert, cloned from the closest one (the expert the
/// family was routed to most, with a copy of its router row, so the clone
/// starts out receiving the same scenes) and slightly perturbed so the two can
/// drift apart. Only the clone and the router train; the delta carries the
/// clone whole (role `.addition`) and the router's change.
public struct ExpertGrowth: Sendable {
    /// When and how an expert is grown.
    public struct Configuration: Sendable, Equatable {
        /// Whether the node may grow an expert at all.
        public var enabled: Bool
        /// Grow when the mean cross-entropy (nats) on the family's states after adapting is above this.
        public var lossThreshold: Float
        /// Relative noise on the clone (see ``MoEPolicy/addExpert(cloning:perturbation:seed:)``).
        public var perturbation: Float
        /// Training of the clone and the router.
        public var fitting: PolicyFitting.Configuration

        public init(
            enabled: Bool = true, lossThreshold: Float = 1.5, perturbation: Float = 0.01,
            fitting: PolicyFitting.Configuration = PolicyFitting.Configuration(epochs: 4, learningRate: 1e-3, replayRatio: 0.75)
        ) {
            self.enabled = enabled
            self.lossThreshold = lossThreshold
            self.perturbation = perturbation
            self.fitting = fitting
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether a family with this loss after adaptation needs an expert of its own.
    public func shouldGrow(lossAfterAdaptation loss: Float) -> Bool {
        configuration.enabled && loss > configuration.lossThreshold
    }

    /// Clones `source`, trains the clone and the router on `data` (replaying `anchor`), and returns the clone's index.
    public func grow(
        _ policy: inout MoEPolicy, cloning source: Int, data: TrainingSet, anchor: TrainingSet?, seed: UInt64
    ) throws(LearningError) -> (expert: Int, result: PolicyFitting.Result) {
        let index: Int
        do {
            index = try policy.addExpert(cloning: source, perturbation: configuration.perturbation, seed: seed)
            try policy.trainOnly(experts: [index], router: true)
        } catch {
            throw LearningError(.incompatiblePolicy, "Cannot clone expert \(source): \(error.message)")
        }
        let result = try PolicyFitting(configuration: configuration.fitting).fit(&policy, data: data, anchor: anchor, seed: seed)
        return (index, result)
    }
}
