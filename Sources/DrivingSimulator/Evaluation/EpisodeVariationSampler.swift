/// Synthesizes variations of the whole episode a capture came from: the same
/// scenario, its parameters nudged around the captured values, new traffic,
/// driven from the start.
///
/// A snapshot variation (``VariationSampler``) starts seconds before the
/// trigger, when the ego is often already committed: a lesson drawn only from
/// there learns the last-moment rescue, not the approach that avoids needing
/// one. Replaying the episode lets the teacher label the whole lead-up — the
/// speed chosen on the icy bend, the gap kept in fog — which is what carries
/// over to other scenes of the family. Variant i re-draws every declared
/// parameter within ± `spread` of its range around the captured value, builds
/// the scenario with seed `mix(capture seed, i)` (new background traffic and
/// behaviours), and keeps the captured weather and sensor conditions, each
/// jittered like a snapshot variation's.
public struct EpisodeVariationSampler: Sendable {
    public let capture: Capture
    public let scenario: Scenario
    public let episode: EpisodeSpec
    /// ± share of each parameter's declared range a variant moves it by.
    public let spread: Double

    /// A sampler for `capture`, or nil when it did not come from a scenario episode the library knows.
    public init?(capture: Capture, library: ScenarioLibrary, spread: Double = 0.15) {
        guard let episode = capture.episode,
              let scenario = library.scenario(file: episode.scenario) ?? library.scenario(family: episode.family)
        else { return nil }
        self.capture = capture
        self.scenario = scenario
        self.episode = episode
        self.spread = spread
    }

    /// The seed of variant `index` (apart from the snapshot variants' seeds).
    public func seed(of index: Int) -> UInt64 {
        SeededGenerator.mix(SeededGenerator.mix(capture.seed, 0xE915_0DE0), UInt64(index)) & EpisodeSpec.seedMask
    }

    /// The episode of variant `index`.
    public func spec(_ index: Int) -> EpisodeSpec {
        let seed = seed(of: index)
        var generator = SeededGenerator(seed: SeededGenerator.mix(seed, 0x5EED))
        var parameters: [String: Double] = [:]
        for name in scenario.parameterNames {
            let declared = scenario.parameters[name]!
            let captured = episode.parameters[name] ?? declared.midpoint
            let width = (declared.upperBound - declared.lowerBound) * spread
            parameters[name] = clamp(captured + generator.uniform(-width, width), declared.lowerBound, declared.upperBound)
        }
        return EpisodeSpec(id: "\(episode.id)-episode-variant-\(index)", family: episode.family, scenario: scenario.file,
                           seed: seed, parameters: parameters)
    }

    /// Builds variant `index`, in the captured conditions.
    public func variant(_ index: Int) throws -> World {
        let spec = spec(index)
        var world = try ScenarioBuilder.build(scenario, episode: spec)
        var generator = SeededGenerator(seed: SeededGenerator.mix(spec.seed, 0xE4F1))
        let ranges = capture.variationRanges
        var conditions = capture.snapshot.environment
        conditions.friction *= 1 + generator.uniform(-ranges.friction, ranges.friction) * 0.5
        conditions.visibility *= 1 + generator.uniform(-ranges.visibility, ranges.visibility) * 0.5
        world.environment = conditions
        world.frictionEstimate = conditions.friction
        return world
    }

    /// Variants `offset ..< offset + count` as evaluation items, each the scenario's whole duration.
    public func items(count: Int, offset: Int = 0) throws -> [EvaluationItem] {
        let decisionSteps = capture.decisionSteps
        return try (offset..<(offset + count)).map { index in
            let world = try variant(index)
            return EvaluationItem(
                id: "\(episode.family)-episode-variant-\(index)", family: episode.family, world: world,
                duration: scenario.duration, decisionSteps: decisionSteps)
        }
    }
}
