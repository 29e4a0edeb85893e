import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork
import Testing

/// Shared, small fixtures: the committed base policy, a collision capture, a tiny anchor.
enum LearningFixtures {
    static let content = SimulatorContent(root: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Simulator"))
    static let library: ScenarioLibrary = try! ScenarioLibrary.load(directory: content.scenarios)
    static let base: MoEPolicy = try! BasePolicy.load(from: content)

    /// A driver that only speeds up crashes into the braking lead: a collision capture.
    static let capture = collision(in: "lead-brake")

    /// A driver that only speeds up crashes into the car ahead once the one in front of it moves out: a lesson
    /// in which the grown expert fails no more than the routed ones, so growth keeps it.
    static let growthCapture = collision(in: "cut-out")

    /// The collision capture of episode 0 of `family` driven by always speeding up.
    static func collision(in family: String) -> Capture {
        let scenario = library.scenario(family: family)!
        let episode = ScenarioBuilder.episode(scenario, index: 0)
        let world = try! ScenarioBuilder.build(scenario, episode: episode)
        var options = EpisodeOptions(duration: scenario.duration, decisionSteps: 3)
        options.triggers = TriggerConfiguration()
        options.episode = episode
        var driver = ConstantDriver(.faster)
        return EpisodeRunner.run(world, driver: &driver, options: options).captures.first { $0.trigger.kind == .collision }!
    }

    /// Teacher-labelled states of two far-away variants: enough rows to exercise replay.
    static func anchor() async throws -> TrainingSet {
        let items = try VariationSynthesizer(configuration: .init(count: 2, seconds: 2, offset: 5_000)).items(for: capture)
        let pass = try await DAggerLabeller().label(base, items: items, beta: 1, seed: 9)
        var set = TrainingSet()
        for samples in pass.samples { set.append(samples) }
        return set
    }

    /// A configuration small enough for a DEBUG test run.
    static func configuration(trainRouter: Bool = false, growth: Bool = false) -> EdgeLearner.Configuration {
        var configuration = EdgeLearner.Configuration()
        configuration.synthesis = .init(count: 4, seconds: 3)
        configuration.labelling = .init(iterations: 2, initialBeta: 1, betaDecay: 0.5)
        configuration.adaptation.trainRouter = trainRouter
        configuration.adaptation.fitting.epochs = 1
        configuration.adaptation.fitting.batchSize = 32
        configuration.growth = .init(enabled: growth, lossThreshold: growth ? -1 : 1.5,
                                     fitting: .init(epochs: 1, batchSize: 32, replayRatio: 0.5))
        return configuration
    }
}

@Suite("edge learning pipeline")
struct EdgeLearnerTests {
    let header = DeltaHeader(nodeID: "node-7", baseVersion: 3, round: 2)

    @Test("cancelled, the rollouts and the fitting stop and say so")
    func cancellation() async throws {
        let items = try VariationSynthesizer(configuration: .init(count: 200, seconds: 3)).items(for: LearningFixtures.capture)
        let labelling = Task { try await DAggerLabeller().label(LearningFixtures.base, items: items, beta: 1, seed: 1) }
        labelling.cancel()
        await #expect(throws: LearningError(.cancelled, "")) { try await labelling.value }
        let data = try await LearningFixtures.anchor()
        let fitting = Task {
            var policy = LearningFixtures.base
            return try PolicyFitting(configuration: .init(epochs: 1_000, batchSize: 32)).fit(&policy, data: data, seed: 1)
        }
        fitting.cancel()
        await #expect(throws: LearningError(.cancelled, "")) { try await fitting.value }
    }

    @Test("one capture becomes a delta that decodes, touches only the routed experts and carries routing counts")
    func endToEnd() async throws {
        let base = LearningFixtures.base
        let learner = EdgeLearner(configuration: LearningFixtures.configuration())
        let adaptation = try await learner.adapt(captures: [LearningFixtures.capture], base: base, anchor: try await LearningFixtures.anchor())
        var compressor = DeltaCompressor(configuration: learner.configuration.compression)
        let delta = try learner.delta(for: adaptation, base: base, header: header, compressor: &compressor)
        let decoded = try DeltaCodec.decodeCompressed(try DeltaCodec.encodeCompressed(delta))
        #expect(decoded == delta)

        #expect(!adaptation.trainedExperts.isEmpty && adaptation.trainedExperts.count <= 2)
        #expect(adaptation.grownExpert == nil)
        let touched = Set(decoded.tensors.compactMap { MoEPolicy.expertIndex(ofParameter: $0.name) })
        #expect(!touched.isEmpty)
        #expect(touched.isSubset(of: Set(adaptation.trainedExperts)))
        #expect(!decoded.tensors.contains { $0.name.hasPrefix("router") })
        #expect(decoded.tensors.allSatisfy { $0.role == .difference })

        #expect(decoded.routingCounts.count == base.experts.count)
        #expect(decoded.routingCounts.reduce(0, +) == UInt64(adaptation.samples * base.architecture.topK))
        #expect(decoded.architecture == base.architecture.hash)
        #expect(decoded.nodeID == "node-7" && decoded.baseVersion == 3 && decoded.round == 2)
        #expect(decoded.metadata.families == ["lead-brake"])
        #expect(decoded.metadata.captures == 1)
        #expect(decoded.metadata.samples == adaptation.samples && adaptation.samples > 0)
        #expect(decoded.metadata.metrics["failure_rate_before"] == adaptation.before.failureRate)
        #expect(adaptation.before.rollouts == 4 && adaptation.after.rollouts == 4)

        // Frozen experts come back bit-identical.
        for expert in base.experts.indices where !adaptation.trainedExperts.contains(expert) {
            #expect(try adaptation.local.parameterSet(expert: expert).isBitIdentical(to: base.parameterSet(expert: expert)))
        }
        #expect(adaptation.local.router == base.router)
    }

    @Test("with the router enabled the delta carries the router too")
    func routerTrained() async throws {
        let base = LearningFixtures.base
        let learner = EdgeLearner(configuration: LearningFixtures.configuration(trainRouter: true))
        let adaptation = try await learner.adapt(captures: [LearningFixtures.capture], base: base, anchor: TrainingSet())
        var compressor = DeltaCompressor()
        let delta = try learner.delta(for: adaptation, base: base, header: header, compressor: &compressor)
        #expect(delta["router.weight"] != nil)
        let experts = Set(delta.tensors.compactMap { MoEPolicy.expertIndex(ofParameter: $0.name) })
        #expect(experts.isSubset(of: Set(adaptation.trainedExperts)))
    }

    @Test("growth adds a cloned expert that the delta carries whole, and applying the delta rebuilds it")
    func growth() async throws {
        let base = LearningFixtures.base
        let learner = EdgeLearner(configuration: LearningFixtures.configuration(growth: true))
        let adaptation = try await learner.adapt(captures: [LearningFixtures.growthCapture], base: base, anchor: TrainingSet())
        #expect(adaptation.grownExpert == base.experts.count)
        #expect(adaptation.local.experts.count == base.experts.count + 1)
        var exact = DeltaCompressor(configuration: .uncompressed)
        let delta = try learner.delta(for: adaptation, base: base, header: header, compressor: &exact)
        let added = delta.tensors.filter { $0.role == .addition }.map(\.name)
        let prefix = MoEPolicy.expertPrefix(base.experts.count)
        #expect(Set(added) == Set(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "router.weight", "router.bias"].map { prefix + $0 }))
        #expect(delta.routingCounts.count == base.experts.count + 1)

        let decoded = try DeltaCodec.decodeCompressed(try DeltaCodec.encodeCompressed(delta))
        let rebuilt = try DeltaApplier.apply(decoded, to: base)
        #expect(rebuilt.experts.count == adaptation.local.experts.count)
        let local = adaptation.local.parameterSet()
        for element in rebuilt.parameterSet() {
            let expected = local[element.name]!
            let worst = zip(element.tensor.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5, "\(element.name) differs by \(worst)")
        }
    }

    @Test("the uncompressed delta applied to the base gives the local policy")
    func applyRoundTrip() async throws {
        let base = LearningFixtures.base
        var local = base
        try local.trainOnly(experts: [1], router: true)
        var data = TrainingSet()
        let pass = try await DAggerLabeller().label(
            base, items: try VariationSynthesizer(configuration: .init(count: 1, seconds: 2)).items(for: LearningFixtures.capture),
            beta: 1, seed: 1)
        data.append(pass.allSamples)
        _ = try PolicyFitting(configuration: .init(epochs: 1, batchSize: 16)).fit(&local, data: data, seed: 1)
        var exact = DeltaCompressor(configuration: .uncompressed)
        let delta = try DeltaBuilder.build(
            base: base, local: local, header: header, routingCounts: Array(repeating: 1, count: 8),
            metadata: DeltaMetadata(), compressor: &exact)
        #expect(Set(delta.tensors.map(\.name)).isSubset(of: Set(["router.weight", "router.bias"] + base.parameterNames.filter { $0.hasPrefix("experts.1.") })))
        let applied = try DeltaApplier.apply(delta, to: base)
        for element in applied.parameterSet() {
            let worst = zip(element.tensor.scalars, local.parameterSet()[element.name]!.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5)
        }
        var wrong = delta
        wrong.architecture = "0000000000000000"
        #expect(throws: LearningError.self) { try DeltaApplier.apply(wrong, to: base) }
    }

    @Test("learning from the spool uses every readable capture and reports the damaged ones")
    func spoolIntegration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("learn-spool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var spool = try CaptureSpool<Capture>(directory: directory)
        let first = try spool.append(LearningFixtures.capture)
        let second = try spool.append(LearningFixtures.capture)
        // Damage the second record: it must be skipped, not fail the lesson.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") && $0 != "quarantine" }.sorted()
        let damaged = directory.appendingPathComponent(names.last!)
        var bytes = try Data(contentsOf: damaged)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: damaged)

        let learner = EdgeLearner(configuration: LearningFixtures.configuration())
        var compressor = DeltaCompressor()
        let lesson = try await learner.learn(
            from: spool, base: LearningFixtures.base, anchor: TrainingSet(), header: header, compressor: &compressor)
        #expect(lesson.consumed == [first])
        #expect(lesson.skipped.count == 1)
        #expect(!lesson.consumed.contains(second))
        #expect(lesson.delta.metadata.captures == 1)
        #expect(try DeltaCodec.decodeCompressed(try DeltaCodec.encodeCompressed(lesson.delta)) == lesson.delta)

        let empty = try CaptureSpool<Capture>(directory: directory.appendingPathComponent("empty"))
        await #expect(throws: LearningError.self) {
            try await learner.learn(from: empty, base: LearningFixtures.base, anchor: TrainingSet(), header: header, compressor: &compressor)
        }
    }

    @Test("with validation worlds the kept checkpoint is one that does not regress there, and the delta says so")
    func validationGate() async throws {
        let base = LearningFixtures.base
        let validation = try VariationSynthesizer(configuration: .init(count: 2, seconds: 3, offset: 7_000)).items(for: LearningFixtures.capture)
        var configuration = LearningFixtures.configuration()
        configuration.validationTolerance = 1  // every checkpoint is eligible: the one failing least on the variations is kept
        let adaptation = try await EdgeLearner(configuration: configuration).adapt(
            captures: [LearningFixtures.capture], base: base, anchor: TrainingSet(), validation: validation)
        #expect((0..<2).contains(adaptation.selectedIteration))
        #expect(adaptation.validationFailureBefore != nil)
        #expect(adaptation.metadata.metrics["validation_failure_before"] == adaptation.validationFailureBefore)
        #expect(adaptation.metadata.metrics["validation_failure_after"] == adaptation.validationFailureAfter)
    }

    @Test("a bad configuration value is a typed error naming the field")
    func validation() async throws {
        var configuration = LearningFixtures.configuration()
        configuration.synthesis.count = 0
        do {
            _ = try await EdgeLearner(configuration: configuration).adapt(
                captures: [LearningFixtures.capture], base: LearningFixtures.base, anchor: TrainingSet())
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.context["field"] == "synthesis.count")
        }
        await #expect(throws: LearningError.self) {
            try await EdgeLearner(configuration: LearningFixtures.configuration()).adapt(
                captures: [], base: LearningFixtures.base, anchor: TrainingSet())
        }
    }
}

@Suite("labels, selection and sparsity")
struct LearningPartsTests {
    /// Records what the wrapped driver decided.
    struct Recording<Inner: Driver>: Driver {
        var inner: Inner
        var actions: [MetaAction] = []
        var name: String { inner.name }
        mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
            let action = inner.decide(observation, context: context)
            actions.append(action)
            return action
        }
    }

    @Test("DAgger labels are the teacher's actions; beta decides who drives", arguments: [0.0, 1.0])
    func labelsComeFromTheTeacher(beta: Double) async throws {
        let items = try VariationSynthesizer(configuration: .init(count: 2, seconds: 2)).items(for: LearningFixtures.capture)
        let pass = try await DAggerLabeller().label(LearningFixtures.base, items: items, beta: beta, seed: 4)
        #expect(pass.samples.count == 2 && pass.scores.count == 2)
        for (item, samples) in zip(items, pass.samples) {
            #expect(!samples.isEmpty)
            if beta == 1 {
                // The teacher drove: rerunning it alone gives the same decisions, and they are the labels.
                var teacher = Recording(inner: TeacherDriver())
                _ = EpisodeRunner.run(item.world, driver: &teacher, options: EpisodeOptions(duration: item.duration, decisionSteps: item.decisionSteps))
                #expect(samples.map(\.label) == teacher.actions)
                #expect(samples.allSatisfy { $0.executed == $0.label })
            } else {
                // The student drove: each executed action is the base policy's own choice.
                let workspace = InferenceWorkspace()
                for sample in samples {
                    #expect(try LearningFixtures.base.infer(sample.observation, workspace: workspace).action == sample.executed.rawValue)
                }
            }
        }
    }

    @Test("the beta schedule halves from its start")
    func betaSchedule() {
        let configuration = DAggerLabeller.Configuration(iterations: 3, initialBeta: 1, betaDecay: 0.5)
        #expect((0..<3).map { configuration.beta(iteration: $0) } == [1, 0.5, 0.25])
    }

    @Test("experts are picked by routing counts until the coverage is held", arguments: [
        (0.75, 2, [1, 3]), (0.5, 2, [1]), (1.0, 3, [1, 3, 4]), (0.75, 1, [1]),
    ])
    func selection(coverage: Double, maxExperts: Int, expected: [Int]) {
        #expect(ExpertAdapter.selectExperts(samplesPerExpert: [5, 50, 0, 30, 15], maxExperts: maxExperts, coverage: coverage) == expected)
    }

    @Test("variations of a capture are reproducible and distinct")
    func synthesis() throws {
        let synthesizer = VariationSynthesizer(configuration: .init(count: 3, seconds: 4))
        let first = try synthesizer.items(for: LearningFixtures.capture), second = try synthesizer.items(for: LearningFixtures.capture)
        #expect(first.map(\.id) == second.map(\.id))
        #expect(first.map { $0.world.actors[0].speed } == second.map { $0.world.actors[0].speed })
        #expect(Set(first.map { $0.world.actors[0].speed }).count == 3)
        #expect(first.allSatisfy { $0.family == "lead-brake" && abs($0.duration - $0.world.time - 4) < 1e-9 })
    }

    @Test("sparse projection keeps at most the top share of each tensor's change")
    func projection() throws {
        let base = LearningFixtures.base
        var local = try MoEPolicy(architecture: .driving, seed: 99)
        SparseProjection.project(&local, onto: base, fraction: 0.1)
        let baseSet = base.parameterSet()
        for element in local.parameterSet() {
            let before = baseSet[element.name]!.scalars
            let changed = zip(element.tensor.scalars, before).filter { $0 != $1 }.count
            #expect(changed <= Int((0.1 * Double(before.count)).rounded(.up)))
        }
    }

    @Test("a shrunk step is base + α · (local − base), tensor by tensor", arguments: [Float(0.25), 0.5, 0.75])
    func shrinking(alpha: Float) throws {
        let base = LearningFixtures.base
        let local = try MoEPolicy(architecture: .driving, seed: 99)
        let shrunk = try DeltaShrinking.interpolate(base: base, local: local, fraction: alpha)
        let baseSet = base.parameterSet(), localSet = local.parameterSet()
        for element in shrunk.parameterSet() {
            let before = baseSet[element.name]!.scalars, after = localSet[element.name]!.scalars
            for (i, value) in element.tensor.scalars.enumerated() {
                #expect(abs(value - (before[i] + alpha * (after[i] - before[i]))) <= 1e-5 * max(1, abs(value)))
            }
        }
    }

    @Test("a lesson narrowed to one expert takes that expert from the local model and everything else from the base")
    func narrowingToOneExpert() throws {
        let base = LearningFixtures.base
        let local = try MoEPolicy(architecture: .driving, seed: 99)
        let narrowed = try DeltaShrinking.keepingOnly(expert: 2, base: base, local: local)
        let baseSet = base.parameterSet(), localSet = local.parameterSet()
        for element in narrowed.parameterSet() {
            let source = MoEPolicy.expertIndex(ofParameter: element.name) == 2 ? localSet : baseSet
            #expect(element.tensor.scalars == source[element.name]!.scalars, "\(element.name)")
        }
        #expect(throws: LearningError.self) { try DeltaShrinking.keepingOnly(expert: 99, base: base, local: local) }
    }

    @Test("a step size outside (0, 1) is a typed error naming the field")
    func shrinkFactorValidation() throws {
        var configuration = EdgeLearner.Configuration()
        configuration.shrinkFactors = [0.5, 1.5]
        #expect(throws: LearningError.self) { try configuration.validate() }
        do { try configuration.validate() } catch { #expect(error.context["field"] == "shrinkFactors") }
    }

    @Test("a widening goal outside (0, 1] is a typed error naming the field")
    func widenValidation() throws {
        var configuration = EdgeLearner.Configuration()
        configuration.widenUntil = 0
        do { try configuration.validate(); Issue.record("validated widenUntil = 0") } catch {
            #expect(error.context["field"] == "widenUntil")
        }
        configuration.widenUntil = nil
        try configuration.validate()
    }

    @Test("replaying the base's own actions labels rows with its argmax")
    func relabel() async throws {
        let items = try VariationSynthesizer(configuration: .init(count: 1, seconds: 2)).items(for: LearningFixtures.capture)
        var set = TrainingSet()
        set.append(try await DAggerLabeller().label(LearningFixtures.base, items: items, beta: 1, seed: 2).allSamples)
        let relabelled = try set.relabelled(by: LearningFixtures.base)
        #expect(relabelled.labels == (try PolicyFitting.predictions(LearningFixtures.base, data: set)))
        #expect(try PolicyFitting.evaluate(LearningFixtures.base, data: relabelled).accuracy == 1)
    }

    @Test("close calls (the smallest logit margins) are replayed more often; without logits nothing changes")
    func closeCalls() async throws {
        let items = try VariationSynthesizer(configuration: .init(count: 1, seconds: 2)).items(for: LearningFixtures.capture)
        var plain = TrainingSet()
        plain.append(try await DAggerLabeller().label(LearningFixtures.base, items: items, beta: 1, seed: 2).allSamples)
        var unlabelled = plain
        unlabelled.emphasizeCloseCalls(share: 0.2, factor: 4)
        #expect(unlabelled.repeats == plain.repeats)

        var set = try plain.relabelled(by: LearningFixtures.base)
        set.emphasizeCloseCalls(share: 0.2, factor: 4)
        let logits = try #require(set.targetLogits)
        let actions = logits.count / set.count
        let margins = (0..<set.count).map { row -> Float in
            let sorted = logits[(row * actions)..<((row + 1) * actions)].sorted(by: >)
            return sorted[0] - sorted[1]
        }
        let emphasized = set.repeats.indices.filter { set.repeats[$0] == 4 }
        #expect(emphasized.count == Int((0.2 * Double(set.count)).rounded(.up)))
        let widestEmphasized = emphasized.map { margins[$0] }.max() ?? .infinity
        let narrowestOther = set.repeats.indices.filter { set.repeats[$0] == 1 }.map { margins[$0] }.min() ?? .infinity
        #expect(widestEmphasized <= narrowestOther)
    }

    @Test("picking experts routes the rows exactly as a full evaluation does, over several batches")
    func routingAlone() async throws {
        let base = LearningFixtures.base
        let items = try VariationSynthesizer(configuration: .init(count: 2, seconds: 2)).items(for: LearningFixtures.capture)
        var data = TrainingSet()
        data.append(try await DAggerLabeller().label(base, items: items, beta: 1, seed: 4).allSamples)
        let routing = try PolicyFitting.routing(base, data: data, batchSize: 7)
        #expect(routing == (try PolicyFitting.evaluate(base, data: data, batchSize: 7).routing))
        #expect(routing.batchSize == data.count)
    }

    @Test("the pull towards the base keeps the change smaller and leaves frozen experts alone", arguments: [false, true])
    func pullTowardsBase(byImportance: Bool) async throws {
        let base = LearningFixtures.base
        let items = try VariationSynthesizer(configuration: .init(count: 2, seconds: 2)).items(for: LearningFixtures.capture)
        var data = TrainingSet()
        data.append(try await DAggerLabeller().label(base, items: items, beta: 1, seed: 4).allSamples)
        let anchor = try (try await LearningFixtures.anchor()).relabelled(by: base)
        let expert = try #require(try ExpertAdapter().select(base, data: data).experts.first)
        func change(pull: Float) throws -> (norm: Double, frozenUnchanged: Bool) {
            var fitting = PolicyFitting.Configuration(epochs: 2, batchSize: 32, learningRate: 1e-3, replayRatio: 0.5)
            fitting.pullTowardsReference = pull
            fitting.pullByImportance = byImportance
            fitting.importanceSamples = 64
            var local = base
            try local.trainOnly(experts: [expert], router: false)
            _ = try PolicyFitting(configuration: fitting).fit(&local, data: data, anchor: anchor, sparseAround: base, seed: 5)
            let difference = try local.parameterSet().subtracting(base.parameterSet())
            let frozen = difference.filter { MoEPolicy.expertIndex(ofParameter: $0) != expert }
            return (difference.globalNorm, frozen.globalNorm == 0)
        }
        let free = try change(pull: 0), pulled = try change(pull: 0.05)
        #expect(free.norm > 0)
        #expect(pulled.norm < free.norm)
        #expect(free.frozenUnchanged && pulled.frozenUnchanged)
    }

    @Test("a pull outside 0 ..< 1 is a typed error naming the field")
    func pullValidation() throws {
        var configuration = EdgeLearner.Configuration()
        configuration.adaptation.fitting.pullTowardsReference = 1
        do { try configuration.validate(); Issue.record("validated a pull of 1") } catch {
            #expect(error.context["field"] == "adaptation.fitting.pullTowardsReference")
        }
    }
}
