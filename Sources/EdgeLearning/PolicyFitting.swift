public import PolicyNetwork

/// Supervised fitting of a policy to teacher labels, with replay and a curriculum.
///
/// Both the base policy's training and a node's adaptation are the same loop:
/// minibatches of (observation, teacher action) under cross-entropy, Adam,
/// gradient clipping. Three things keep an adaptation honest:
///
/// - **Replay.** A share `replayRatio` of every batch comes from an anchor set
///   (teacher-labelled ordinary driving), so a thousand fog variants cannot
///   pull the shared experts away from how they drive everywhere else.
///   Anchor rows are drawn in proportion to their ``TrainingSet/repeats``, so
///   close calls (see ``TrainingSet/emphasizeCloseCalls(share:factor:)``) are
///   replayed more often than the easy bulk of ordinary driving.
/// - **Curriculum.** Rows are ordered by difficulty; epoch e of E trains on
///   the easiest `max(curriculumStart, (e+1)/E)` share, so the hard rows come
///   in once the easy ones are fitted (Bengio et al. 2009).
/// - **Pull.** With a reference (the base) and ``Configuration/pullTowardsReference``,
///   every step is followed by a pull of the trained weights back towards the
///   base, strongest where the base's Fisher information on the anchor is
///   largest, so the lesson moves the weights ordinary driving needs least.
///
/// Only the parts of the policy marked trainable change (see
/// ``MoEPolicy/trainOnly(experts:router:)``); frozen ones stay bit-identical.
public struct PolicyFitting: Sendable {
    /// The training hyper-parameters.
    public struct Configuration: Sendable, Equatable {
        /// Passes over the training rows.
        public var epochs: Int
        /// Rows per batch (replayed rows included).
        public var batchSize: Int
        /// Adam step size.
        public var learningRate: Float
        /// Share of each batch drawn from the anchor set, in 0 ..< 1.
        public var replayRatio: Double
        /// Share of the rows (easiest first) the first epoch uses; 1 disables the curriculum.
        public var curriculumStart: Double
        /// Upper bound on steps in one call (0: none), to bound a node's compute;
        /// each epoch gets an equal share (a fresh random subset of its rows).
        public var maxSteps: Int
        /// Global gradient-norm clip.
        public var gradientClipNorm: Float
        /// Weight of the router's load-balancing loss (only matters when the router trains).
        public var auxiliaryLossWeight: Float
        /// When set (and a reference is given), the change is kept to this top-k share per tensor after every epoch.
        public var deltaFraction: Double?
        /// When the anchor carries the base's logits, every step is followed by one
        /// that pulls the logits of replayed rows back to the base's (mean squared
        /// error): keeping the margins, not just the argmax, keeps the timing of
        /// close calls (when to brake) where the lesson is not about them.
        public var distillation: Bool
        /// Pull of the change towards the reference (the base) after every step, as
        /// a share of the change: local ← reference + (1 − ρᵢ) · (local − reference).
        ///
        /// Decoupled L2 regularization towards the base — weight decay aimed at the
        /// shared model rather than at zero — so the lesson's gradient has to keep
        /// paying for every weight it moves. With ``pullByImportance`` the share is
        /// per weight, ρᵢ = min(½, ρ · Fᵢ / mean F), where F is the diagonal Fisher
        /// information of the base on the anchor's rows (EWC, Kirkpatrick et al.
        /// 2017): weights ordinary driving depends on — its close calls above all,
        /// where the base's gradient is largest — are held near the base, and the
        /// lesson is free to move the rest. 0: no pull.
        public var pullTowardsReference: Float
        /// Whether ``pullTowardsReference`` is weighted per weight by the base's
        /// Fisher information on the anchor (needs an anchor; uniform without).
        public var pullByImportance: Bool
        /// Anchor rows the Fisher information is estimated on (drawn as replay draws them).
        public var importanceSamples: Int

        public init(
            epochs: Int = 4, batchSize: Int = 256, learningRate: Float = 1e-3, replayRatio: Double = 0.5,
            curriculumStart: Double = 0.5, maxSteps: Int = 0, gradientClipNorm: Float = 5, auxiliaryLossWeight: Float = 0.01,
            deltaFraction: Double? = nil, distillation: Bool = true, pullTowardsReference: Float = 0,
            pullByImportance: Bool = true, importanceSamples: Int = 512
        ) {
            self.pullTowardsReference = pullTowardsReference
            self.pullByImportance = pullByImportance
            self.importanceSamples = importanceSamples
            self.distillation = distillation
            self.deltaFraction = deltaFraction
            self.epochs = epochs
            self.batchSize = batchSize
            self.learningRate = learningRate
            self.replayRatio = replayRatio
            self.curriculumStart = curriculumStart
            self.maxSteps = maxSteps
            self.gradientClipNorm = gradientClipNorm
            self.auxiliaryLossWeight = auxiliaryLossWeight
        }

        func validate(_ prefix: String) throws(LearningError) {
            func fail(_ field: String, _ text: String) -> LearningError {
                LearningError(.invalidConfiguration, "\(prefix).\(field) \(text)", context: ["field": "\(prefix).\(field)"])
            }
            guard epochs >= 1 else { throw fail("epochs", "must be ≥ 1, got \(epochs).") }
            guard batchSize >= 1 else { throw fail("batchSize", "must be ≥ 1, got \(batchSize).") }
            guard learningRate > 0, learningRate.isFinite else { throw fail("learningRate", "must be > 0, got \(learningRate).") }
            guard replayRatio >= 0, replayRatio < 1 else { throw fail("replayRatio", "must be in 0 ..< 1, got \(replayRatio).") }
            guard curriculumStart > 0, curriculumStart <= 1 else { throw fail("curriculumStart", "must be in (0, 1], got \(curriculumStart).") }
            guard pullTowardsReference >= 0, pullTowardsReference < 1 else {
                throw fail("pullTowardsReference", "must be in 0 ..< 1, got \(pullTowardsReference).")
            }
        }
    }

    /// What a fitting run measured.
    public struct Result: Sendable, Equatable {
        public var steps: Int
        /// Mean task loss of the first and last epoch's batches.
        public var firstEpochLoss: Float
        public var lastEpochLoss: Float
        /// Where the batches (replayed rows included) were routed, summed over all steps.
        public var routing: RoutingStatistics
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Fits the trainable parts of `policy` to `data`, replaying `anchor`.
    ///
    /// Deterministic for a given seed. An empty anchor (or ratio 0) trains on `data` alone.
    /// - Parameter sparseAround: when given, the change from this policy is
    ///   projected onto its top-``Configuration/deltaFraction`` after every
    ///   epoch (see ``SparseProjection``), and with ``Configuration/pullTowardsReference``
    ///   the change is pulled back towards it after every step.
    public func fit(
        _ policy: inout MoEPolicy, data: TrainingSet, anchor: TrainingSet? = nil, sparseAround reference: MoEPolicy? = nil,
        seed: UInt64
    ) throws(LearningError) -> Result {
        try configuration.validate("fitting")
        guard !data.isEmpty else { throw LearningError(.nothingToLearn, "No labelled rows to fit.") }
        guard data.width == policy.architecture.inputs else {
            throw LearningError(.incompatiblePolicy, "Rows have \(data.width) features; the policy reads \(policy.architecture.inputs).")
        }
        let width = data.width
        let replay = (anchor?.isEmpty ?? true) ? 0 : Int((configuration.replayRatio * Double(configuration.batchSize)).rounded())
        let fresh = max(1, configuration.batchSize - replay)
        let batch = fresh + replay

        // Rows by difficulty (stable), so a prefix is "the easiest share".
        let order = data.difficulty.indices.sorted { (data.difficulty[$0], $0) < (data.difficulty[$1], $1) }
        var generator = SeededGenerator(seed: seed)
        let trainer = MoETrainer(
            optimizer: Adam(learningRate: configuration.learningRate),
            auxiliaryLossWeight: policy.isRouterTrainable ? configuration.auxiliaryLossWeight : 0,
            gradientClipNorm: configuration.gradientClipNorm)
        let actions = policy.architecture.actions
        let distilling = configuration.distillation && replay > 0 && anchor?.targetLogits != nil
        var anchorInputs = Tensor(shape: [max(replay, 1), width])
        var anchorTargets = Tensor(shape: [max(replay, 1), actions])
        var inputs = Tensor(shape: [batch, width])
        var labels = [Int](repeating: 0, count: batch)
        var routing = RoutingStatistics(experts: policy.experts.count)
        var steps = 0, firstLoss: Float = 0, lastLoss: Float = 0
        let epochs = configuration.epochs
        // Replayed rows are drawn from a pool where each anchor row appears `repeats` times.
        let anchorPool = anchor.map { set in set.repeats.indices.flatMap { row in repeatElement(row, count: max(1, set.repeats[row])) } } ?? []
        // The reference's trainable tensors and the per-weight pull towards them.
        var pullTargets: (targets: ParameterSet, shares: ParameterSet)?
        if configuration.pullTowardsReference > 0, let reference {
            let targets = Self.trainableParameters(of: reference, like: policy)
            var importance = SeededGenerator(seed: SeededGenerator.mix(seed, 0xF15E))
            let fisher = configuration.pullByImportance && !anchorPool.isEmpty
                ? try Self.fisherInformation(
                    of: reference, like: policy, anchor: anchor!, pool: anchorPool, samples: configuration.importanceSamples,
                    generator: &importance)
                : nil
            pullTargets = (targets, Self.pullShares(targets: targets, fisher: fisher, share: configuration.pullTowardsReference))
        }

        for epoch in 0..<epochs {
            try LearningError.checkCancellation("the fitting")
            let share = max(configuration.curriculumStart, Double(epoch + 1) / Double(epochs))
            var pool: [Int] = []
            for row in order.prefix(max(1, Int((share * Double(order.count)).rounded(.up)))) {
                for _ in 0..<max(1, data.repeats[row]) { pool.append(row) }
            }
            pool.shuffle(using: &generator)
            var lossSum: Float = 0, lossCount = 0
            var start = 0
            let epochSteps = configuration.maxSteps > 0 ? max(1, configuration.maxSteps / epochs) : Int.max
            var stepsThisEpoch = 0
            while start < pool.count, stepsThisEpoch < epochSteps {
                stepsThisEpoch += 1
                inputs.withUnsafeMutableBufferPointer { x in
                    data.observations.withUnsafeBufferPointer { source in
                        for slot in 0..<fresh {
                            let row = pool[(start + slot) % pool.count]
                            labels[slot] = data.labels[row]
                            (x.baseAddress! + slot * width).update(from: source.baseAddress! + row * width, count: width)
                        }
                    }
                    if let anchor, replay > 0 {
                        anchor.observations.withUnsafeBufferPointer { source in
                            for slot in fresh..<batch {
                                let row = anchorPool[Int(generator.next() % UInt64(anchorPool.count))]
                                labels[slot] = anchor.labels[row]
                                (x.baseAddress! + slot * width).update(from: source.baseAddress! + row * width, count: width)
                            }
                        }
                    }
                }
                let step: MoETrainer.StepResult
                do { step = try trainer.step(&policy, inputs: inputs, targets: .actions(labels)) } catch {
                    throw LearningError(.incompatiblePolicy, "A training step failed: \(error)")
                }
                lossSum += step.loss
                lossCount += 1
                steps += 1
                start += fresh
                try? routing.accumulate(step.routing)
                if distilling, let anchor, let targets = anchor.targetLogits {
                    anchorInputs.withUnsafeMutableBufferPointer { x in
                        anchorTargets.withUnsafeMutableBufferPointer { y in
                            anchor.observations.withUnsafeBufferPointer { source in
                                targets.withUnsafeBufferPointer { logits in
                                    for slot in 0..<replay {
                                        let row = anchorPool[Int(generator.next() % UInt64(anchorPool.count))]
                                        (x.baseAddress! + slot * width).update(from: source.baseAddress! + row * width, count: width)
                                        (y.baseAddress! + slot * actions).update(from: logits.baseAddress! + row * actions, count: actions)
                                    }
                                }
                            }
                        }
                    }
                    do { try trainer.step(&policy, inputs: anchorInputs, targets: .values(anchorTargets)) } catch {
                        throw LearningError(.incompatiblePolicy, "A distillation step failed: \(error)")
                    }
                }
                if let pull = pullTargets { Self.pull(&policy, towards: pull.targets, shares: pull.shares) }
            }
            if let reference, let fraction = configuration.deltaFraction {
                SparseProjection.project(&policy, onto: reference, fraction: fraction)
            }
            let mean = lossCount > 0 ? lossSum / Float(lossCount) : 0
            if epoch == 0 { firstLoss = mean }
            lastLoss = mean
        }
        return Result(steps: steps, firstEpochLoss: firstLoss, lastEpochLoss: lastLoss, routing: routing)
    }

    /// The experts `policy` may train.
    static func trainableExperts(of policy: MoEPolicy) -> Set<Int> {
        Set(policy.experts.indices.filter { policy.expertIsTrainable[$0] })
    }

    /// The parameters of `reference` that `policy` may train (same names and shapes).
    static func trainableParameters(of reference: MoEPolicy, like policy: MoEPolicy) -> ParameterSet {
        let trainable = trainableExperts(of: policy)
        let referenceSet = reference.parameterSet()
        let own = policy.parameterSet()
        return referenceSet.filter { name in
            if let expert = MoEPolicy.expertIndex(ofParameter: name) {
                return trainable.contains(expert) && own.shape(of: name) == referenceSet.shape(of: name)
            }
            return policy.isRouterTrainable && own.shape(of: name) == referenceSet.shape(of: name)
        }
    }

    /// The diagonal Fisher information of `reference` on anchor rows, for the tensors `policy` trains.
    ///
    /// F = mean over rows of g², g the gradient of the cross-entropy at the row's
    /// label (the base's own action on a policy-labelled anchor), one row at a
    /// time. Confident rows give g ≈ 0; close calls, where a small change flips
    /// the action, give the largest g.
    static func fisherInformation(
        of reference: MoEPolicy, like policy: MoEPolicy, anchor: TrainingSet, pool: [Int], samples: Int,
        generator: inout SeededGenerator
    ) throws(LearningError) -> ParameterSet {
        var probe = reference
        do {
            try probe.trainOnly(experts: trainableExperts(of: policy), router: policy.isRouterTrainable)
        } catch { throw LearningError(.incompatiblePolicy, "Cannot estimate importance: \(error.message)") }
        var fisher = trainableParameters(of: reference, like: policy).scaled(by: 0)
        let trainer = MoETrainer(optimizer: Adam(), auxiliaryLossWeight: 0, gradientClipNorm: nil)
        let width = anchor.width
        var input = Tensor(shape: [1, width])
        let count = max(1, samples)
        for _ in 0..<count {
            let row = pool[Int(generator.next() % UInt64(pool.count))]
            input.withUnsafeMutableBufferPointer { x in
                anchor.observations.withUnsafeBufferPointer { source in
                    x.baseAddress!.update(from: source.baseAddress! + row * width, count: width)
                }
            }
            do { try trainer.computeGradients(probe, inputs: input, targets: .actions([anchor.labels[row]])) } catch {
                throw LearningError(.incompatiblePolicy, "An importance step failed: \(error)")
            }
            let gradients = trainer.lastGradients!.parameterSet()
            for element in gradients where fisher.contains(element.name) {
                element.tensor.withUnsafeBufferPointer { g in
                    try! fisher.withUnsafeMutableBufferPointer(element.name) { f in
                        for i in 0..<f.count { f[i] += g[i] * g[i] / Float(count) }
                    }
                }
            }
        }
        return fisher
    }

    /// Per-weight pull shares: `share` everywhere, or min(½, share · F / mean F) with Fisher information F.
    static func pullShares(targets: ParameterSet, fisher: ParameterSet?, share: Float) -> ParameterSet {
        guard let fisher else {
            var shares = targets.scaled(by: 0)
            for element in targets {
                try! shares.withUnsafeMutableBufferPointer(element.name) { values in
                    for i in 0..<values.count { values[i] = share }
                }
            }
            return shares
        }
        let total = fisher.reduce(0.0) { sum, element in sum + element.tensor.scalars.reduce(0.0) { $0 + Double($1) } }
        let mean = total / Double(max(1, fisher.scalarCount))
        var shares = fisher
        guard mean > 0 else { return fisher.scaled(by: 0) }
        let scale = share / Float(mean)
        for element in fisher {
            try! shares.withUnsafeMutableBufferPointer(element.name) { values in
                for i in 0..<values.count { values[i] = min(0.5, scale * values[i]) }
            }
        }
        return shares
    }

    /// local ← target + (1 − ρᵢ) · (local − target) for every weight of `targets`, ρ from `shares`.
    static func pull(_ policy: inout MoEPolicy, towards targets: ParameterSet, shares: ParameterSet) {
        guard targets.count > 0 else { return }
        var parameters = policy.parameterSet()
        for element in targets {
            try! element.tensor.withUnsafeBufferPointer { target in
                try shares.withUnsafeBufferPointer(element.name) { share in
                    try parameters.withUnsafeMutableBufferPointer(element.name) { values in
                        for i in 0..<values.count { values[i] = target[i] + (1 - share[i]) * (values[i] - target[i]) }
                    }
                }
            }
        }
        try! policy.load(parameters)
    }

    /// `policy`'s action (argmax) for every row of `data`.
    public static func predictions(_ policy: MoEPolicy, data: TrainingSet, batchSize: Int = 512) throws(LearningError) -> [Int] {
        try outputs(policy, data: data, batchSize: batchSize).actions
    }

    /// `policy`'s logits (row-major, `actions` per row) and argmax for every row of `data`.
    public static func outputs(
        _ policy: MoEPolicy, data: TrainingSet, batchSize: Int = 512
    ) throws(LearningError) -> (logits: [Float], actions: [Int]) {
        var allLogits: [Float] = []
        let workspace = MoEWorkspace()
        let width = data.width, actions = policy.architecture.actions
        var result: [Int] = []
        result.reserveCapacity(data.count)
        var start = 0
        while start < data.count {
            let rows = min(batchSize, data.count - start)
            let logits: Tensor
            do {
                let inputs = try Tensor(shape: [rows, width], scalars: Array(data.observations[(start * width)..<((start + rows) * width)]))
                logits = try policy.predict(inputs, workspace: workspace).logits
            } catch { throw LearningError(.incompatiblePolicy, "\(error)") }
            allLogits += logits.scalars
            logits.withUnsafeBufferPointer { z in
                for r in 0..<rows {
                    var best = 0
                    for j in 1..<actions where z[r * actions + j] > z[r * actions + best] { best = j }
                    result.append(best)
                }
            }
            start += rows
        }
        return (allLogits, result)
    }

    /// Where `policy`'s router sends the rows of `data`, without running any expert.
    ///
    /// Equal to the routing ``evaluate(_:data:batchSize:)`` reports (the same
    /// batches, accumulated the same way) at the cost of the router alone.
    public static func routing(_ policy: MoEPolicy, data: TrainingSet, batchSize: Int = 512) throws(LearningError) -> RoutingStatistics {
        guard !data.isEmpty else { throw LearningError(.nothingToLearn, "No labelled rows to route.") }
        guard data.width == policy.architecture.inputs else {
            throw LearningError(.incompatiblePolicy, "Rows have \(data.width) features; the policy reads \(policy.architecture.inputs).")
        }
        let workspace = MoEWorkspace()
        let width = data.width
        var routing = RoutingStatistics(experts: policy.experts.count)
        var start = 0
        while start < data.count {
            let rows = min(max(1, batchSize), data.count - start)
            let batchRouting: RoutingStatistics
            do {
                batchRouting = try data.observations.withUnsafeBufferPointer { (all) throws(PolicyNetworkError) -> RoutingStatistics in
                    try policy.routing(of: UnsafeBufferPointer(rebasing: all[(start * width)..<((start + rows) * width)]), workspace: workspace)
                }
            } catch { throw LearningError(.incompatiblePolicy, "\(error)") }
            try? routing.accumulate(batchRouting)
            start += rows
        }
        return routing
    }

    /// Mean cross-entropy of `policy` on `data` (nats), and where the rows are routed.
    ///
    /// How the node decides whether its experts handle a family: a loss that
    /// stays high after adapting means none of them can.
    public static func evaluate(_ policy: MoEPolicy, data: TrainingSet, batchSize: Int = 512) throws(LearningError) -> (loss: Float, accuracy: Float, routing: RoutingStatistics) {
        guard !data.isEmpty else { throw LearningError(.nothingToLearn, "No labelled rows to evaluate.") }
        let workspace = MoEWorkspace()
        let width = data.width, actions = policy.architecture.actions
        var routing = RoutingStatistics(experts: policy.experts.count)
        var lossSum = 0.0, correct = 0
        var start = 0
        while start < data.count {
            let rows = min(batchSize, data.count - start)
            let inputs: Tensor
            do {
                inputs = try Tensor(shape: [rows, width], scalars: Array(data.observations[(start * width)..<((start + rows) * width)]))
            } catch { throw LearningError(.incompatiblePolicy, "\(error)") }
            let (logits, batchRouting): (Tensor, RoutingStatistics)
            do { (logits, batchRouting) = try policy.predict(inputs, workspace: workspace) } catch {
                throw LearningError(.incompatiblePolicy, "\(error)")
            }
            try? routing.accumulate(batchRouting)
            logits.withUnsafeBufferPointer { z in
                for r in 0..<rows {
                    let row = z.baseAddress! + r * actions
                    var maximum = row[0], best = 0
                    for j in 1..<actions where row[j] > maximum { maximum = row[j]; best = j }
                    var sum: Float = 0
                    for j in 0..<actions { sum += _expf(row[j] - maximum) }
                    let label = data.labels[start + r]
                    lossSum += Double(_logf(sum) + maximum - row[label])
                    if best == label { correct += 1 }
                }
            }
            start += rows
        }
        return (Float(lossSum / Double(data.count)), Float(correct) / Float(data.count), routing)
    }
}

@_silgen_name("expf") func _expf(_ x: Float) -> Float
@_silgen_name("logf") func _logf(_ x: Float) -> Float
