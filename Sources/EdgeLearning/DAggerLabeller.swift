public import DrivingSimulator
import FleetEvaluation
public import PolicyNetwork

/// Labels the states a student policy visits with the teacher's action (DAgger), and scores rollouts.
///
/// Behaviour cloning on the teacher's own trajectories never shows the
/// student its own mistakes: the first time it brakes late it is in a state
/// nobody labelled. DAgger (Ross, Gordon & Bagnell 2011) lets the student
/// drive and asks the teacher — the privileged planner that sees the true
/// state — what it would do in every state visited. With probability β the
/// teacher's action is executed instead, so early iterations stay near
/// sensible states; β falls over iterations:
///
///     β_i = β_0 · decay^i
///
/// The coin and every variant are seeded, so a labelled set is reproducible.
public struct DAggerLabeller: Sendable {
    /// The mixing schedule and parallelism.
    public struct Configuration: Sendable, Equatable {
        /// DAgger iterations (label, then train, on the aggregate of all iterations so far).
        public var iterations: Int
        /// β of the first iteration (1: the teacher drives, pure demonstration).
        public var initialBeta: Double
        /// β is multiplied by this after each iteration.
        public var betaDecay: Double
        /// Rollouts driven at once (2 on the fleet's 2-core nodes); results do not depend on it.
        public var concurrency: Int

        public init(iterations: Int = 3, initialBeta: Double = 1, betaDecay: Double = 0.5, concurrency: Int = 2) {
            self.iterations = iterations
            self.initialBeta = initialBeta
            self.betaDecay = betaDecay
            self.concurrency = concurrency
        }

        /// β of iteration `i`.
        public func beta(iteration i: Int) -> Double {
            initialBeta * integerPower(betaDecay, i)
        }

        func validate() throws(LearningError) {
            guard iterations >= 1 else {
                throw LearningError(.invalidConfiguration, "labelling.iterations must be ≥ 1, got \(iterations).", context: ["field": "labelling.iterations"])
            }
            guard (0...1).contains(initialBeta), (0...1).contains(betaDecay) else {
                throw LearningError(.invalidConfiguration, "labelling.initialBeta and betaDecay must be in 0…1.", context: ["field": "labelling.initialBeta"])
            }
        }
    }

    /// The labels and scores of one pass over a set of worlds.
    public struct Pass: Sendable {
        /// The labelled states of each world, in item order.
        public var samples: [[LabelledSample]]
        /// How each rollout went (under the mixture that drove it).
        public var scores: [RolloutScore]

        /// Every sample, in item order.
        public var allSamples: [LabelledSample] { samples.flatMap { $0 } }
    }

    public var configuration: Configuration
    public let teacher: TeacherDriver

    public init(configuration: Configuration = Configuration(), teacher: TeacherDriver = TeacherDriver()) {
        self.configuration = configuration
        self.teacher = teacher
    }

    /// Drives every item with the student/teacher mixture at `beta` and labels every visited state.
    ///
    /// Item `i` flips its coin with seed `mix(seed, i)`, so a pass does not
    /// depend on how the items are spread over workers.
    public func label(
        _ policy: MoEPolicy, items: [EvaluationItem], beta: Double, seed: UInt64
    ) async throws(LearningError) -> Pass {
        _ = try Self.driver(policy)
        let teacher = self.teacher
        let results = try await Self.parallelMap(items, concurrency: configuration.concurrency) { index, item in
            var driver = LabellingDriver(
                student: try! PolicyDriver(policy: policy, name: "student"), teacher: teacher, beta: beta, seed: DrivingSimulator.SeededGenerator.mix(seed, UInt64(index)))
            let result = EpisodeRunner.run(
                item.world, driver: &driver, options: EpisodeOptions(duration: item.duration, decisionSteps: item.decisionSteps))
            return (driver.samples, RolloutScore(result))
        }
        return Pass(samples: results.map { $0.0 }, scores: results.map { $0.1 })
    }

    /// Drives every item with the student alone and scores it: how the policy does, with no teacher help.
    public func score(_ policy: MoEPolicy, items: [EvaluationItem]) async throws(LearningError) -> [RolloutScore] {
        _ = try Self.driver(policy)
        return try await Self.parallelMap(items, concurrency: configuration.concurrency) { _, item in
            var driver = try! PolicyDriver(policy: policy, name: "student")
            return RolloutScore(EpisodeRunner.run(
                item.world, driver: &driver, options: EpisodeOptions(duration: item.duration, decisionSteps: item.decisionSteps)))
        }
    }

    static func driver(_ policy: MoEPolicy) throws(LearningError) -> PolicyDriver {
        do { return try PolicyDriver(policy: policy, name: "student") } catch {
            throw LearningError(.incompatiblePolicy, error.message, context: error.context)
        }
    }

    /// `transform` over `items` on `concurrency` workers, results in item order.
    ///
    /// Items are dealt out in contiguous chunks, one per worker: rollouts cost
    /// about the same, and a chunk keeps each worker's driver (and its
    /// workspace) for the whole chunk. Workers stop between items once the
    /// task is cancelled, and the call throws ``LearningError/Code/cancelled``.
    static func parallelMap<Item: Sendable, Result: Sendable>(
        _ items: [Item], concurrency: Int, _ transform: @escaping @Sendable (Int, Item) -> Result
    ) async throws(LearningError) -> [Result] {
        let workers = max(1, min(concurrency, items.count))
        let chunk = (items.count + workers - 1) / max(workers, 1)
        var results = [Result?](repeating: nil, count: items.count)
        await withTaskGroup(of: (Int, [Result]).self) { group in
            for worker in 0..<workers {
                let range = (worker * chunk)..<min(items.count, (worker + 1) * chunk)
                guard !range.isEmpty else { continue }
                group.addTask {
                    var chunkResults: [Result] = []
                    chunkResults.reserveCapacity(range.count)
                    for index in range {
                        if Task.isCancelled { break }
                        chunkResults.append(transform(index, items[index]))
                    }
                    return (range.lowerBound, chunkResults)
                }
            }
            for await (start, chunkResults) in group {
                for (offset, result) in chunkResults.enumerated() { results[start + offset] = result }
            }
        }
        try LearningError.checkCancellation("the rollouts")
        return results.map { $0! }
    }
}

/// x^n for a non-negative integer n, without Foundation.
@inline(__always)
func integerPower(_ x: Double, _ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<max(n, 0) { result *= x }
    return result
}
