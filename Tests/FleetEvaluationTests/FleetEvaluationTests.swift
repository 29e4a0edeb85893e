@testable import DrivingSimulator
import FleetEvaluation
import Foundation
import PolicyNetwork
import Testing

enum EvaluationFixtures {
    static let content = SimulatorContent(root: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Simulator"))
    static let library: ScenarioLibrary = try! ScenarioLibrary.load(directory: content.scenarios)
    static let base: MoEPolicy = try! BasePolicy.load(from: content)

    /// A collision capture: a driver that only speeds up, in a lead-brake episode.
    static let capture: Capture = {
        let scenario = library.scenario(family: "lead-brake")!
        let episode = ScenarioBuilder.episode(scenario, index: 0)
        let world = try! ScenarioBuilder.build(scenario, episode: episode)
        var options = EpisodeOptions(duration: scenario.duration, decisionSteps: 3)
        options.triggers = TriggerConfiguration()
        options.episode = episode
        var driver = ConstantDriver(.faster)
        return EpisodeRunner.run(world, driver: &driver, options: options).captures.first { $0.trigger.kind == .collision }!
    }()
}

@Suite("policy as a driver")
struct PolicyDriverTests {
    @Test("a policy that does not read the observation is refused with a typed error")
    func incompatible() throws {
        let policy = try MoEPolicy(architecture: .standard, seed: 1)
        #expect(throws: EvaluationError.self) { try PolicyDriver(policy: policy) }
        do { _ = try PolicyDriver(policy: policy) } catch { #expect(error.code == .incompatiblePolicy) }
    }

    @Test("each decision is the policy's argmax, and the router's choices are counted")
    func decisions() throws {
        let policy = try MoEPolicy(architecture: .driving, seed: 3)
        var driver = try PolicyDriver(policy: policy)
        let scenario = EvaluationFixtures.library.scenario(family: "cut-in")!
        let world = try ScenarioBuilder.build(scenario, episode: ScenarioBuilder.episode(scenario, index: 0))
        let result = EpisodeRunner.run(world, driver: &driver, options: EpisodeOptions(duration: 4, decisionSteps: 3))
        #expect(driver.decisions == result.decisions)
        #expect(driver.topExpertCounts.reduce(0, +) == driver.decisions)
        #expect(driver.maxRouterEntropy > 0)
        var observed = world
        var observation = Observation()
        observed.observe(into: &observation)
        let expected = try policy.infer(observation.values, workspace: InferenceWorkspace())
        var fresh = try PolicyDriver(policy: policy)
        let action = fresh.decide(observation, context: DriverContext(world: world, decisionSteps: 3))
        #expect(action.rawValue == expected.action)
        #expect(fresh.lastInference == expected)
    }
}

@Suite("suite evaluation")
struct SuiteEvaluationTests {
    @Test("the committed base policy loads and has the driving shape")
    func basePolicy() throws {
        let policy = try BasePolicy.load(from: EvaluationFixtures.content)
        #expect(policy.architecture == .driving)
        #expect(FileManager.default.fileExists(atPath: BasePolicy.directory(in: EvaluationFixtures.content)
            .appendingPathComponent(BasePolicy.manifestName).path))
    }

    @Test("a missing checkpoint is a typed error naming the path")
    func missingBase() {
        let content = SimulatorContent(root: URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)"))
        do {
            _ = try BasePolicy.load(from: content)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .missingCheckpoint)
            #expect(error.message.contains("base-policy.safetensors"))
        }
    }

    @Test("a seed model at any path loads; a file that is not a checkpoint is refused by name")
    func seedModelAtPath() throws {
        let committed = BasePolicy.url(in: EvaluationFixtures.content).path
        #expect(try BasePolicy.load(at: committed).parameterSet() == EvaluationFixtures.base.parameterSet())
        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-model-\(UUID().uuidString).safetensors")
        try Data("not a checkpoint".utf8).write(to: junk)
        defer { try? FileManager.default.removeItem(at: junk) }
        do {
            _ = try BasePolicy.load(at: junk.path)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .missingCheckpoint)
            #expect(error.message.contains(junk.lastPathComponent))
        }
    }

    @Test("gold-suite evaluation scores per family and is deterministic")
    func goldEvaluation() async throws {
        let library = EvaluationFixtures.library
        let episodes = ["cut-in", "fog"].map { ScenarioBuilder.episode(library.scenario(family: $0)!, index: 0) }
        let suite = GoldSuite(version: 0, description: "test", episodes: episodes)
        let first = try await PolicyEvaluation.evaluate(EvaluationFixtures.base, suite: suite, library: library)
        let second = try await PolicyEvaluation.evaluate(EvaluationFixtures.base, suite: suite, library: library, concurrency: 1)
        #expect(first.families.map(\.family) == ["cut-in", "fog"])
        #expect(first.episodes == second.episodes)
    }

    @Test("held-out variations are not the training variations")
    func heldOut() {
        let capture = EvaluationFixtures.capture
        let heldOut = HeldOutVariations.items(of: capture, count: 3)
        let sampler = VariationSampler(capture: capture)
        #expect(heldOut.count == 3)
        #expect(heldOut[0].world.actors[0].speed != sampler.variant(0).actors[0].speed)
        #expect(heldOut[0].world.environment != sampler.variant(0).environment)
        #expect(heldOut.allSatisfy { $0.family == "lead-brake" && $0.duration > $0.world.time })
    }

    @Test("comparison reports per-family changes and the tolerance check")
    func comparison() {
        func outcome(_ family: String, _ crashed: Bool) -> EpisodeOutcome {
            EpisodeOutcome(id: UUID().uuidString, family: family, collided: crashed, offRoad: false, collisionWith: nil, nearMiss: false,
                           interventions: 0, meanSpeed: 20, rmsJerk: 1, minTimeToCollision: nil, time: 10)
        }
        let before = EvaluationReport(driver: "a", episodes: [outcome("fog", true), outcome("fog", false), outcome("ice", false)])
        let after = EvaluationReport(driver: "b", episodes: [outcome("fog", false), outcome("fog", false), outcome("ice", true)])
        let comparison = SuiteComparison(before: before, after: after)
        #expect(comparison.rows.map(\.change) == [50, -100])
        #expect(comparison.worstRegression?.family == "ice")
        #expect(!comparison.holds(tolerance: 2))
        #expect(SuiteComparison(before: before, after: before).holds(tolerance: 0))
    }
}
