public import DrivingSimulator
import FleetEvaluation
public import FleetWire
import Foundation
public import PolicyNetwork

/// The edge-learning pipeline: from edge-case captures to a policy delta that fixes them.
///
/// Steps 3–6 of a lesson (see DESIGN.md, "The flow of one lesson"):
///
/// 1. **Synthesize** — each capture becomes K variations (``VariationSynthesizer``).
/// 2. **Score** — the base policy drives them alone: the "before".
/// 3. **Label and adapt**, DAgger style (``DAggerLabeller``): each iteration the
///    current local policy drives (mixed with the teacher at β), the teacher
///    labels every visited state, and the experts the router sends these states
///    to are refitted on the aggregate of all labels so far, replaying the
///    anchor set (``ExpertAdapter``). States where the base disagrees with
///    the teacher are drawn more often, and a curriculum orders the rows:
///    variations of a capture have no difficulty knob of their own, so how the
///    base did on each one is the knob — clean runs first, near misses next,
///    crashes last. The change is kept within the delta's top-k share while
///    training (``SparseProjection``), so compression keeps the lesson.
///    The smallest lesson is tried first: the family's top expert alone,
///    held near the base by a pull weighted by what ordinary driving depends
///    on (``PolicyFitting/Configuration/pullTowardsReference``); only if that
///    removes too few failures, the same expert free, then its top two
///    (``Configuration/widenUntil``).
/// 4. **Grow** — if the loss on the family's states is still high, a new expert
///    cloned from the closest one takes the lesson (``ExpertGrowth``), kept
///    only if it fails no more on the variations than the lesson without it.
/// 5. **Check and score** — each DAgger iteration's checkpoint is checked
///    against ordinary driving; the best one that does not regress is kept,
///    then shortened to the smallest step base + α · (checkpoint − base) that
///    still holds most of its lesson on the variations (``DeltaShrinking``),
///    and scored on the same variations: the "after".
/// 6. **Delta** — local − base, touched tensors only, compressed with error
///    feedback and packed with routing counts and metadata (``DeltaBuilder``).
///
/// Everything is seeded: the same captures, base, anchor and configuration
/// give the same delta, bit for bit.
public struct EdgeLearner: Sendable {
    /// Every knob of the pipeline, with defaults that work on a 2-core node.
    public struct Configuration: Sendable, Equatable {
        public var synthesis: VariationSynthesizer.Configuration
        public var labelling: DAggerLabeller.Configuration
        public var adaptation: ExpertAdapter.Configuration
        public var growth: ExpertGrowth.Configuration
        /// How the delta is shrunk (top-k share, int8, error feedback).
        public var compression: DeltaCompressor.Configuration
        /// Whether adaptation keeps the change within the compression's top-k share
        /// (``SparseProjection``), so the compressed delta carries the whole lesson.
        public var sparseAdaptation: Bool
        /// How much worse (failure-rate share, e.g. 0.01 = 1 point) a checkpoint may do
        /// than the base on the validation worlds and still be kept.
        public var validationTolerance: Double
        /// Step sizes tried, shortest first: base + α · (checkpoint − base) for each α
        /// here (see ``DeltaShrinking``). Empty: the checkpoint as it is.
        public var shrinkFactors: [Float]
        /// The shortest step is kept that still removes this share of the failures the
        /// full checkpoint removes on the variations — or at least ``widenUntil`` of
        /// the base's failures, whichever is less — and does not fail more on the
        /// validation worlds than the checkpoint. Nil: the checkpoint as it is.
        public var shortestStepKeeping: Double?
        /// Start with the family's top expert and add the next most-routed one (up to
        /// `adaptation.maxExperts`) while the lesson removes less than this share of
        /// the base's failures on the variations; a wider lesson is kept only if it
        /// reaches that share. With a pull towards the base
        /// (`adaptation.fitting.pullTowardsReference`), the top expert is tried held
        /// near the base before it is tried free: a pull that holds back a lesson the
        /// family needs (one that must move weights ordinary driving also uses)
        /// costs a retry, not the lesson. Nil: `maxExperts` at once (held near the base when pulled).
        public var widenUntil: Double?
        /// Seeds the labelling coins and the shuffles.
        public var seed: UInt64

        public init(
            synthesis: VariationSynthesizer.Configuration = .init(),
            labelling: DAggerLabeller.Configuration = .init(),
            adaptation: ExpertAdapter.Configuration = .init(),
            growth: ExpertGrowth.Configuration = .init(),
            compression: DeltaCompressor.Configuration = .init(fraction: 0.2),
            sparseAdaptation: Bool = true,
            validationTolerance: Double = 0,
            shrinkFactors: [Float] = [0.25, 0.5, 0.75],
            shortestStepKeeping: Double? = 0.9,
            widenUntil: Double? = 0.5,
            seed: UInt64 = 0x1E55_0000
        ) {
            self.widenUntil = widenUntil
            self.shrinkFactors = shrinkFactors
            self.shortestStepKeeping = shortestStepKeeping
            self.validationTolerance = validationTolerance
            self.sparseAdaptation = sparseAdaptation
            self.synthesis = synthesis
            self.labelling = labelling
            self.adaptation = adaptation
            self.growth = growth
            self.compression = compression
            self.seed = seed
        }

        /// Checks every field; the error names the first bad one.
        public func validate() throws(LearningError) {
            try synthesis.validate()
            try labelling.validate()
            try adaptation.validate()
            guard compression.fraction > 0, compression.fraction <= 1 else {
                throw LearningError(.invalidConfiguration, "compression.fraction must be in (0, 1], got \(compression.fraction).",
                                    context: ["field": "compression.fraction"])
            }
            if let widenUntil, !(widenUntil > 0 && widenUntil <= 1) {
                throw LearningError(.invalidConfiguration, "widenUntil must lie in (0, 1], got \(widenUntil).",
                                    context: ["field": "widenUntil"])
            }
            for factor in shrinkFactors where !(factor > 0 && factor < 1) {
                throw LearningError(.invalidConfiguration, "shrinkFactors must lie in (0, 1), got \(factor).",
                                    context: ["field": "shrinkFactors"])
            }
        }
    }

    /// What one lesson produced: the adapted policy and how it got there.
    public struct Adaptation: Sendable {
        /// The base with the lesson applied (possibly one expert larger).
        public var local: MoEPolicy
        /// The families of the captures.
        public var families: [String]
        public var captures: Int
        public var variations: Int
        /// Labelled states used (aggregate over DAgger iterations).
        public var samples: Int
        /// The experts that were trained, most-routed first.
        public var trainedExperts: [Int]
        /// The expert grown for the family, if any.
        public var grownExpert: Int?
        /// Where the local policy routes the labelled states, per expert.
        public var routing: RoutingStatistics
        /// The base policy alone on the variations.
        public var before: RolloutSummary
        /// The local policy alone on the same variations.
        public var after: RolloutSummary
        /// Cross-entropy against the teacher's labels, base and local.
        public var lossBefore: Float
        public var lossAfter: Float
        /// Training steps taken.
        public var steps: Int
        /// The DAgger iteration whose checkpoint was kept.
        public var selectedIteration: Int
        /// The step kept towards the checkpoint: 1, or a ``Configuration/shrinkFactors`` entry.
        public var shrink: Float
        /// Whether the kept lesson was trained with the pull towards the base
        /// (``PolicyFitting/Configuration/pullTowardsReference``).
        public var heldNearBase: Bool
        /// Failure rate of the base and of the kept checkpoint on the validation worlds (nil without validation).
        public var validationFailureBefore: Double?
        public var validationFailureAfter: Double?

        /// The local metrics a delta carries.
        public var metrics: [String: Double] {
            [
                "failure_rate_before": before.failureRate, "failure_rate_after": after.failureRate,
                "near_miss_rate_before": before.nearMissRate, "near_miss_rate_after": after.nearMissRate,
                "progress_before": before.meanProgress, "progress_after": after.meanProgress,
                "loss_before": Double(lossBefore), "loss_after": Double(lossAfter),
                "variations": Double(variations), "trained_experts": Double(trainedExperts.count),
            ].merging(
                validationFailureBefore.map { ["validation_failure_before": $0, "validation_failure_after": validationFailureAfter ?? $0] } ?? [:]
            ) { current, _ in current }
        }

        /// The delta metadata for this lesson.
        public var metadata: DeltaMetadata {
            DeltaMetadata(families: families, samples: samples, captures: captures, metrics: metrics)
        }
    }

    public var configuration: Configuration
    /// The scenarios episode variations are rebuilt from (see ``VariationSynthesizer/Source/episode``).
    public var scenarios: ScenarioLibrary?

    public init(configuration: Configuration = Configuration(), scenarios: ScenarioLibrary? = nil) {
        self.configuration = configuration
        self.scenarios = scenarios
    }

    /// Learns from `captures`: synthesis, DAgger labels, adaptation of the routed experts, optional growth.
    ///
    /// - Parameters:
    ///   - base: the shared model the node runs.
    ///   - anchor: teacher-labelled ordinary driving replayed while adapting
    ///     (see ``OrdinaryDriving/anchor(policy:library:beta:seed:labeller:)``); empty disables replay.
    ///   - validation: ordinary-driving worlds the node checks each DAgger
    ///     checkpoint against (see ``OrdinaryDriving/items(library:)``). Of the
    ///     checkpoints that do no worse than the base there (within
    ///     ``Configuration/validationTolerance``), the one that fails least on the
    ///     variations is kept — the node's own regression gate, so it does not
    ///     send a lesson that breaks ordinary driving. Empty: the last checkpoint.
    ///   - progress: receives one line per stage.
    /// - Throws: ``LearningError`` when there is nothing to learn or a value is out of range.
    public func adapt(
        captures: [Capture], base: MoEPolicy, anchor: TrainingSet, validation: [EvaluationItem] = [],
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws(LearningError) -> Adaptation {
        try configuration.validate()
        guard !captures.isEmpty else { throw LearningError(.nothingToLearn, "No captures to learn from.") }
        let synthesizer = VariationSynthesizer(configuration: configuration.synthesis, scenarios: scenarios)
        var items: [EvaluationItem] = []
        for capture in captures { items += try synthesizer.items(for: capture) }
        let families = Array(Set(captures.map(VariationSynthesizer.family(of:)))).sorted()
        let labeller = DAggerLabeller(configuration: configuration.labelling)

        let beforeScores = try await labeller.score(base, items: items)
        let before = RolloutSummary(beforeScores)
        progress("before: failure rate \(before.failureRate) on \(items.count) variations of \(families.joined(separator: ", "))")
        let validationBaseline = validation.isEmpty ? nil : RolloutSummary(try await labeller.score(base, items: validation)).failureRate

        // The smallest lesson first: one expert held near the base, then free, then wider,
        // while the lesson removes too few failures.
        let widest = configuration.adaptation.maxExperts
        var rungs: [(experts: Int, pulled: Bool)] = (configuration.widenUntil == nil ? [widest] : Array(1...max(1, widest))).map { ($0, false) }
        if configuration.adaptation.fitting.pullTowardsReference > 0 { rungs.insert((rungs[0].experts, true), at: 0) }
        var lesson = try await attempt(
            experts: rungs[0].experts, pulled: rungs[0].pulled, items: items, beforeScores: beforeScores, base: base, anchor: anchor,
            validation: validation, validationBaseline: validationBaseline, progress: progress)
        var steps = lesson.steps
        for rung in rungs.dropFirst() {
            guard let goal = configuration.widenUntil, before.failureRate - lesson.failureRate < goal * before.failureRate else { break }
            let wider = try await attempt(
                experts: rung.experts, pulled: rung.pulled, items: items, beforeScores: beforeScores, base: base, anchor: anchor,
                validation: validation, validationBaseline: validationBaseline, progress: progress)
            steps += wider.steps
            progress("\(rung.experts) experts\(rung.pulled ? " held near the base" : ""): family failure \(wider.failureRate) (kept so far: \(lesson.failureRate))")
            // A larger lesson touches behaviour other families share: keep it only if it reaches the goal.
            if before.failureRate - wider.failureRate >= goal * before.failureRate { lesson = wider }
        }
        var local = lesson.local
        let data = lesson.data, experts = lesson.experts
        let lossBefore = try PolicyFitting.evaluate(base, data: data).loss
        var lossAfter = try PolicyFitting.evaluate(local, data: data).loss

        var grown: Int?
        var after = lesson.summary
        let growth = ExpertGrowth(configuration: configuration.growth)
        if growth.shouldGrow(lossAfterAdaptation: lossAfter), let source = experts.first {
            // A grown expert travels whole and reroutes states: keep it only if it fails no more.
            var grownPolicy = local
            let (index, result) = try growth.grow(
                &grownPolicy, cloning: source, data: data, anchor: anchor.isEmpty ? nil : anchor, seed: mix(configuration.seed, 0x6120))
            steps += result.steps
            let grownLoss = try PolicyFitting.evaluate(grownPolicy, data: data).loss
            let grownSummary = RolloutSummary(try await labeller.score(grownPolicy, items: items))
            progress("grew expert \(index) from \(source): loss \(grownLoss), family failure \(grownSummary.failureRate) (without: \(lesson.failureRate))")
            if grownSummary.failureRate <= lesson.failureRate {
                local = grownPolicy
                grown = index
                lossAfter = grownLoss
                after = grownSummary
            }
        }

        progress("after: failure rate \(after.failureRate)")
        let routing = try PolicyFitting.routing(local, data: data)
        return Adaptation(
            local: local, families: families, captures: captures.count, variations: items.count, samples: data.count,
            trainedExperts: experts, grownExpert: grown, routing: routing, before: before, after: after,
            lossBefore: lossBefore, lossAfter: lossAfter, steps: steps, selectedIteration: lesson.selectedIteration, shrink: lesson.shrink,
            heldNearBase: lesson.pulled,
            validationFailureBefore: validationBaseline, validationFailureAfter: lesson.validationAfter)
    }

    /// One try at the lesson with at most `experts` experts: DAgger labels and refits,
    /// the node's checkpoint check, the shortest step, and the failure rate it leaves.
    private struct Attempt {
        var local: MoEPolicy
        var data: TrainingSet
        var experts: [Int]
        var steps: Int
        var selectedIteration: Int
        var shrink: Float
        var validationAfter: Double?
        /// Whether the trained experts were pulled towards the base while training.
        var pulled: Bool
        /// How `local` drives the training variations alone.
        var summary: RolloutSummary
        var failureRate: Double { summary.failureRate }
    }

    private func attempt(
        experts budget: Int, pulled: Bool, items: [EvaluationItem], beforeScores: [RolloutScore], base: MoEPolicy, anchor: TrainingSet,
        validation: [EvaluationItem], validationBaseline: Double?, progress: @Sendable (String) -> Void
    ) async throws(LearningError) -> Attempt {
        let labeller = DAggerLabeller(configuration: configuration.labelling)
        var adapterConfiguration = configuration.adaptation
        adapterConfiguration.maxExperts = budget
        if !pulled { adapterConfiguration.fitting.pullTowardsReference = 0 }
        if configuration.sparseAdaptation { adapterConfiguration.fitting.deltaFraction = configuration.compression.fraction }
        let adapter = ExpertAdapter(configuration: adapterConfiguration)
        let before = RolloutSummary(beforeScores)

        var local = base
        var data = TrainingSet(width: base.architecture.inputs)
        var experts: [Int] = []
        var steps = 0
        var checkpoints: [MoEPolicy] = []
        for iteration in 0..<configuration.labelling.iterations {
            let beta = configuration.labelling.beta(iteration: iteration)
            let pass = try await labeller.label(local, items: items, beta: beta, seed: mix(configuration.seed, UInt64(iteration)))
            let firstNew = data.count
            for (index, samples) in pass.samples.enumerated() { data.append(samples, difficulty: beforeScores[index].difficulty) }
            try data.emphasizeCorrections(of: base, from: firstNew, factor: configuration.adaptation.correctionWeight)
            guard !data.isEmpty else { throw LearningError(.nothingToLearn, "The variations produced no labelled states.") }
            if iteration == 0 {
                let selection = try adapter.select(base, data: data)
                experts = selection.experts
                progress("experts \(experts) (routing \(selection.routing.samplesPerExpert))")
            }
            let result = try adapter.adapt(
                &local, experts: experts, data: data, anchor: anchor.isEmpty ? nil : anchor, base: base,
                seed: mix(configuration.seed, 0x100 + UInt64(iteration)))
            steps += result.steps
            checkpoints.append(local)
            progress("iteration \(iteration): beta \(beta), rollouts fail \(RolloutSummary(pass.scores).failureRate), \(data.count) samples, loss \(result.firstEpochLoss) → \(result.lastEpochLoss)")
        }
        var selectedIteration = checkpoints.count - 1
        var familySummaries: [RolloutSummary] = []
        var validationAfter: Double?
        var shrink: Float = 1
        if let baseline = validationBaseline {
            var best: (index: Int, eligible: Bool, family: Double, validation: Double)?
            for (index, checkpoint) in checkpoints.enumerated() {
                let familySummary = RolloutSummary(try await labeller.score(checkpoint, items: items))
                familySummaries.append(familySummary)
                let family = familySummary.failureRate
                let checked = RolloutSummary(try await labeller.score(checkpoint, items: validation)).failureRate
                let eligible = checked - baseline <= configuration.validationTolerance
                progress("checkpoint \(index): family failure \(family), validation failure \(checked) (base \(baseline))")
                let better: Bool
                if let current = best {
                    better = eligible != current.eligible ? eligible
                        : (eligible ? family <= current.family : checked <= current.validation)
                } else { better = true }
                if better { best = (index, eligible, family, checked) }
            }
            selectedIteration = best!.index
            local = checkpoints[selectedIteration]
            validationAfter = best!.validation
        }
        // The kept checkpoint's rollouts, when the check above already drove them.
        var summary = familySummaries.indices.contains(selectedIteration)
            ? familySummaries[selectedIteration] : RolloutSummary(try await labeller.score(local, items: items))
        if let keep = configuration.shortestStepKeeping, !configuration.shrinkFactors.isEmpty {
            // The shortest step towards the kept checkpoint that still holds most of its lesson.
            let full = summary.failureRate
            let gain = before.failureRate - full
            if gain > 0 {
                // Most of the lesson, or at least the widening goal's share of the base's failures.
                let enough = min(keep * gain, (configuration.widenUntil ?? 1) * before.failureRate)
                let checkpoint = local
                for factor in configuration.shrinkFactors.sorted() {
                    let candidate = try DeltaShrinking.interpolate(base: base, local: checkpoint, fraction: factor)
                    let candidateSummary = RolloutSummary(try await labeller.score(candidate, items: items))
                    let family = candidateSummary.failureRate
                    progress("step \(factor): family failure \(family) (full step \(full), base \(before.failureRate))")
                    guard before.failureRate - family >= enough else { continue }
                    if let validationBaseline, let current = validationAfter {
                        let checked = RolloutSummary(try await labeller.score(candidate, items: validation)).failureRate
                        progress("step \(factor): validation failure \(checked) (base \(validationBaseline))")
                        guard checked <= max(current, validationBaseline + configuration.validationTolerance) else { continue }
                        validationAfter = checked
                    }
                    local = candidate
                    shrink = factor
                    summary = candidateSummary
                    break
                }
            }
        }
        return Attempt(
            local: local, data: data, experts: experts, steps: steps, selectedIteration: selectedIteration, shrink: shrink,
            validationAfter: validationAfter, pulled: pulled, summary: summary)
    }

    /// The delta of an adaptation against `base`, compressed by the node's `compressor`.
    public func delta(
        for adaptation: Adaptation, base: MoEPolicy, header: DeltaHeader, compressor: inout DeltaCompressor
    ) throws(LearningError) -> PolicyDelta {
        try DeltaBuilder.build(
            base: base, local: adaptation.local, header: header, routingCounts: adaptation.routing.samplesPerExpert,
            metadata: adaptation.metadata, compressor: &compressor)
    }

    /// What learning from a spool produced, and which spool records it used.
    public struct SpoolLesson: Sendable {
        public var adaptation: Adaptation
        public var delta: PolicyDelta
        /// The spool sequence numbers learned from: remove them once the delta is delivered.
        public var consumed: [UInt64]
        /// Spool files that could not be read (already quarantined by the spool), with reasons.
        public var skipped: [CaptureSpool<Capture>.SkippedFile]
    }

    /// Learns from every capture in `spool` (at most `limit`, oldest first) and builds the delta.
    ///
    /// The spool is not changed: the caller removes ``SpoolLesson/consumed`` once
    /// the delta is safely delivered, so a crash in between loses nothing.
    public func learn(
        from spool: CaptureSpool<Capture>, limit: Int = .max, base: MoEPolicy, anchor: TrainingSet,
        validation: [EvaluationItem] = [], header: DeltaHeader,
        compressor: inout DeltaCompressor, progress: @Sendable (String) -> Void = { _ in }
    ) async throws(LearningError) -> SpoolLesson {
        let (records, skipped) = spool.readAll()
        let chosen = Array(records.prefix(max(0, limit)))
        guard !chosen.isEmpty else {
            throw LearningError(.nothingToLearn, "The capture spool at \(spool.directory.path) holds no readable captures.",
                                context: ["skipped": "\(skipped.count)"])
        }
        let adaptation = try await adapt(
            captures: chosen.map(\.record), base: base, anchor: anchor, validation: validation, progress: progress)
        let delta = try delta(for: adaptation, base: base, header: header, compressor: &compressor)
        return SpoolLesson(adaptation: adaptation, delta: delta, consumed: chosen.map(\.sequence), skipped: skipped)
    }

    private func mix(_ base: UInt64, _ index: UInt64) -> UInt64 {
        DrivingSimulator.SeededGenerator.mix(base, index)
    }
}
