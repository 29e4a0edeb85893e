import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork

/// Real EdgeLearner deltas against the committed base policy, one per
/// scenario family whose capture the base crashes in, written as the
/// compressed containers a node uploads. The robustness test aggregates
/// them (honest nodes) and their ×100 sign-flipped copies (poisoned nodes).
///
///     swift run -c release aggregation-benchmark --make-lessons Tests/AggregationRobustnessTests/Lessons
///
/// Lessons are learned at a small size (K = 300 variations per capture) so
/// the whole set is made in minutes; each is otherwise the node's pipeline
/// with its defaults (DAgger labels, two experts, top-20 % int8 delta).
enum LessonFixtures {
    static func make(directory: String, variations: Int = 300) async throws {
        guard let content = SimulatorContent.locate() else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "run from the repository (Simulator/ not found)"])
        }
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let base = try BasePolicy.load(from: content)
        let anchor = try await OrdinaryDriving(episodesPerFamily: 30, difficulty: 0.5, firstIndex: 10_000)
            .anchor(policy: base, library: library, labels: .policy)
        let validation = try OrdinaryDriving(episodesPerFamily: 20, difficulty: 0.5, firstIndex: 20_000).items(library: library)
        var configuration = EdgeLearner.Configuration()
        configuration.synthesis.count = variations
        let learner = EdgeLearner(configuration: configuration)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for scenario in library.scenarios {
            guard let capture = try findCapture(base, scenario) else {
                print("\(scenario.family): the base never crashed in 40 episodes; no lesson")
                continue
            }
            let adaptation = try await learner.adapt(captures: [capture], base: base, anchor: anchor, validation: validation) { _ in }
            guard adaptation.grownExpert == nil else {
                print("\(scenario.family): the lesson grew an expert; skipped (the test averages differences only)")
                continue
            }
            var compressor = DeltaCompressor(configuration: configuration.compression)
            let delta = try learner.delta(
                for: adaptation, base: base, header: DeltaHeader(nodeID: "lesson-\(scenario.family)", baseVersion: 1, round: 1),
                compressor: &compressor)
            let body = try DeltaCodec.encodeCompressed(delta)
            let path = (directory as NSString).appendingPathComponent("\(scenario.family).fldelta.zst")
            try Data(body).write(to: URL(fileURLWithPath: path))
            print("\(scenario.family): experts \(adaptation.trainedExperts), \(delta.tensors.count) tensors, \(body.count) bytes → \(path)")
        }
    }

    /// The first crash (or, failing that, near miss) of the base in 40 hard episodes of `scenario`.
    private static func findCapture(_ base: MoEPolicy, _ scenario: Scenario) throws -> Capture? {
        var fallback: Capture?
        for index in 0..<40 {
            let episode = ScenarioBuilder.episode(scenario, index: index, baseSeed: 0xCA97_0000_0001, difficulty: 0.8)
            let world = try ScenarioBuilder.build(scenario, episode: episode)
            var options = EpisodeOptions(
                duration: scenario.duration, decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1))
            options.triggers = TriggerConfiguration()
            options.episode = episode
            options.captureLead = 5
            var driver = try PolicyDriver(policy: base, name: "base")
            let result = EpisodeRunner.run(world, driver: &driver, options: options)
            if let crash = result.captures.first(where: { $0.trigger.kind == .collision || $0.trigger.kind == .offRoad }) {
                return crash
            }
            if fallback == nil { fallback = result.captures.first { $0.trigger.kind == .timeToCollision } }
        }
        return fallback
    }
}
