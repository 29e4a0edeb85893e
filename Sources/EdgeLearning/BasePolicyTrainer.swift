public import DrivingSimulator
public import FleetEvaluation
public import PolicyNetwork

/// Trains the fleet's starting model from the teacher: behaviour cloning, then DAgger.
///
/// The base policy has to drive reasonably — it is what every car runs on day
/// one — but it is trained only on ordinary driving (every family at its
/// easiest, seeds apart from the gold suite), so the hard edge cases are
/// left for the fleet to learn. Iteration 0 is behaviour cloning (β = 1: the
/// teacher drives, every state is labelled); later iterations let the student
/// drive more (β halves) and label the states it reaches, and the policy is
/// refitted on the aggregate (DAgger). Deterministic for a given configuration.
public struct BasePolicyTrainer: Sendable {
    /// How the base policy is made.
    public struct Configuration: Sendable, Equatable {
        /// Which episodes are driven.
        public var driving: OrdinaryDriving
        /// DAgger iterations and β schedule.
        public var labelling: DAggerLabeller.Configuration
        /// The fitting of all parameters on the aggregate after each iteration.
        public var fitting: PolicyFitting.Configuration
        /// Weights initialization seed and the shuffling seed.
        public var seed: UInt64
        /// The architecture (the driving policy by default).
        public var architecture: PolicyArchitecture
        /// The rules the teacher's labels keep to (nil: labels ignore them).
        public var rules: Guardrail?

        public init(
            driving: OrdinaryDriving = OrdinaryDriving(episodesPerFamily: 40, difficulty: 0),
            labelling: DAggerLabeller.Configuration = DAggerLabeller.Configuration(iterations: 4, initialBeta: 1, betaDecay: 0.5),
            fitting: PolicyFitting.Configuration = PolicyFitting.Configuration(
                epochs: 8, batchSize: 256, learningRate: 1e-3, replayRatio: 0, curriculumStart: 1),
            seed: UInt64 = 1, architecture: PolicyArchitecture = .driving
        ) {
            self.driving = driving
            self.labelling = labelling
            self.fitting = fitting
            self.seed = seed
            self.architecture = architecture
        }

        /// The ceiling's recipe: DAgger with the fleet's network on every family
        /// at the gold suite's difficulty (each scenario's own), `episodesPerFamily`
        /// fresh episodes a family (seeds apart from the gold suite's and the
        /// base policy's), six iterations of eight epochs. What the network
        /// reaches with all the data it wants: the upper bound a fleet is measured against.
        /// Set ``rules`` to the guardrail the fleet drives under: labels that keep
        /// to it raise the ceiling (88.2 → 90.1 % on gold v4, see BENCHMARKS.md).
        public static func upperBound(episodesPerFamily: Int = 120) -> Configuration {
            Configuration(
                driving: OrdinaryDriving(episodesPerFamily: episodesPerFamily, difficulty: nil, baseSeed: 0xCE11_0000_0001),
                labelling: DAggerLabeller.Configuration(iterations: 6, initialBeta: 1, betaDecay: 0.5))
        }

        /// The configuration as string pairs, for the checkpoint's metadata and its note.
        public var description: [String: String] {
            [
                "episodes_per_family": "\(driving.episodesPerFamily)",
                "difficulty": driving.difficulty.map { "\($0)" } ?? "each scenario's own",
                "episode_base_seed": "\(driving.baseSeed)",
                "dagger_iterations": "\(labelling.iterations)",
                "dagger_initial_beta": "\(labelling.initialBeta)",
                "dagger_beta_decay": "\(labelling.betaDecay)",
                "epochs_per_iteration": "\(fitting.epochs)",
                "batch_size": "\(fitting.batchSize)",
                "learning_rate": "\(fitting.learningRate)",
                "seed": "\(seed)",
            ]
        }
    }

    /// What one DAgger iteration did.
    public struct Iteration: Sendable, Equatable {
        public var beta: Double
        public var newSamples: Int
        public var totalSamples: Int
        /// Failure rate of the rollouts that produced the labels (under the mixture).
        public var failureRate: Double
        public var loss: Float
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Trains a base policy on ``Configuration/driving``'s episodes; `log` receives one line per iteration.
    public func train(
        library: ScenarioLibrary, log: @Sendable (String) -> Void = { _ in }
    ) async throws -> (policy: MoEPolicy, iterations: [Iteration]) {
        try await train(items: try configuration.driving.items(library: library), log: log)
    }

    /// Trains a policy from scratch by DAgger on `items` (``Configuration/driving`` is not used).
    public func train(
        items: [EvaluationItem], log: @Sendable (String) -> Void = { _ in }
    ) async throws -> (policy: MoEPolicy, iterations: [Iteration]) {
        var policy = try MoEPolicy(architecture: configuration.architecture, seed: configuration.seed)
        let labeller = DAggerLabeller(configuration: configuration.labelling, teacher: TeacherDriver(rules: configuration.rules))
        let fitting = PolicyFitting(configuration: configuration.fitting)
        var data = TrainingSet(width: configuration.architecture.inputs)
        var iterations: [Iteration] = []
        for i in 0..<configuration.labelling.iterations {
            let beta = configuration.labelling.beta(iteration: i)
            let pass = try await labeller.label(
                policy, items: items, beta: beta, seed: DrivingSimulator.SeededGenerator.mix(configuration.seed, UInt64(i)))
            let before = data.count
            for samples in pass.samples { data.append(samples) }
            policy.unfreezeAll()
            let result = try fitting.fit(&policy, data: data, seed: DrivingSimulator.SeededGenerator.mix(configuration.seed, 100 + UInt64(i)))
            let iteration = Iteration(
                beta: beta, newSamples: data.count - before, totalSamples: data.count,
                failureRate: RolloutSummary(pass.scores).failureRate, loss: result.lastEpochLoss)
            iterations.append(iteration)
            log("iteration \(i): beta \(beta), \(iteration.newSamples) new samples (\(data.count) in all), rollout failure rate \(iteration.failureRate), loss \(result.lastEpochLoss)")
        }
        return (policy, iterations)
    }
}
