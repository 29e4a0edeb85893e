public import DrivingSimulator

/// Turns an edge-case capture into K simulated variations of it.
///
/// One crash is one sample; a policy that learned from it alone would learn
/// that exact gap and speed. The simulator's ``VariationSampler`` perturbs the
/// snapshot within the capture's declared ranges (speeds, gaps, friction,
/// visibility, sensor noise, behaviour, trigger timing) with seed
/// `mix(capture seed, i)`, so the lesson is "this kind of scene", and any
/// variant can be rebuilt from its index. With ``Source/episode`` and the
/// scenario library at hand, a variation replays the capture's whole episode
/// instead (``EpisodeVariationSampler``): the lesson then covers the approach
/// to the scene, not only its last seconds.
public struct VariationSynthesizer: Sendable {
    /// Where a variation starts.
    public enum Source: String, Sendable, Equatable, CaseIterable {
        /// The captured snapshot, a few seconds before the trigger.
        case snapshot
        /// The start of the episode the capture came from (captures without one fall back to their snapshot).
        case episode
    }

    /// How many variations and how long each runs.
    public struct Configuration: Sendable, Equatable {
        /// Variations per capture (K).
        public var count: Int
        /// Seconds each variation is driven past the snapshot.
        public var seconds: Double
        /// The first variant index (held-out sets use a far-away offset).
        public var offset: Int
        /// Where each variation starts.
        public var source: Source
        /// ± share of each scenario parameter's range an episode variation moves it by.
        public var episodeSpread: Double

        public init(count: Int = 1_000, seconds: Double = 10, offset: Int = 0, source: Source = .snapshot, episodeSpread: Double = 0.15) {
            self.count = count
            self.seconds = seconds
            self.offset = offset
            self.source = source
            self.episodeSpread = episodeSpread
        }

        func validate() throws(LearningError) {
            guard count >= 1 else {
                throw LearningError(.invalidConfiguration, "synthesis.count must be ≥ 1, got \(count).", context: ["field": "synthesis.count"])
            }
            guard seconds > 0, seconds.isFinite else {
                throw LearningError(.invalidConfiguration, "synthesis.seconds must be > 0, got \(seconds).", context: ["field": "synthesis.seconds"])
            }
            guard (0...1).contains(episodeSpread) else {
                throw LearningError(.invalidConfiguration, "synthesis.episodeSpread must be in 0…1, got \(episodeSpread).",
                                    context: ["field": "synthesis.episodeSpread"])
            }
        }
    }

    public var configuration: Configuration
    /// The scenarios episode variations are rebuilt from (nil: snapshot variations only).
    public var scenarios: ScenarioLibrary?

    public init(configuration: Configuration = Configuration(), scenarios: ScenarioLibrary? = nil) {
        self.configuration = configuration
        self.scenarios = scenarios
    }

    /// The family a capture teaches ("capture" when it did not come from a scenario episode).
    public static func family(of capture: Capture) -> String {
        capture.episode?.family ?? "capture"
    }

    /// The variations of one capture as ready-to-drive worlds.
    ///
    /// Episode variations need the capture's episode and its scenario in
    /// ``scenarios``; a capture without them (a real vehicle's, or a family
    /// this library does not have) gets snapshot variations instead.
    /// - Throws: ``LearningError/Code/unreplayableCapture`` when the scenario
    ///   is there but the capture's episode no longer builds from it.
    public func items(for capture: Capture) throws(LearningError) -> [EvaluationItem] {
        if configuration.source == .episode, let scenarios,
           let sampler = EpisodeVariationSampler(capture: capture, library: scenarios, spread: configuration.episodeSpread) {
            do {
                return try sampler.items(count: configuration.count, offset: configuration.offset)
            } catch {
                throw LearningError(
                    .unreplayableCapture, "Cannot replay the episode of a \(Self.family(of: capture)) capture (seed \(capture.seed)) into variations: \(error)",
                    context: ["family": Self.family(of: capture)])
            }
        }
        let sampler = VariationSampler(capture: capture)
        let family = Self.family(of: capture)
        return (0..<configuration.count).map { i in
            let index = configuration.offset + i
            let world = sampler.variant(index)
            return EvaluationItem(
                id: "\(family)-variant-\(index)", family: family, world: world,
                duration: world.time + configuration.seconds, decisionSteps: capture.decisionSteps)
        }
    }
}
