public import DrivingSimulator

/// Turns an edge-case capture into K simulated variations of it.
///
/// One crash is one sample; a policy that learned from it alone would learn
/// that exact gap and speed. The simulator's ``VariationSampler`` perturbs the
/// snapshot within the capture's declared ranges (speeds, gaps, friction,
/// visibility, sensor noise, behaviour, trigger timing) with seed
/// `mix(capture seed, i)`, so the lesson is "this kind of scene", and any
/// variant can be rebuilt from its index.
public struct VariationSynthesizer: Sendable {
    /// How many variations and how long each runs.
    public struct Configuration: Sendable, Equatable {
        /// Variations per capture (K).
        public var count: Int
        /// Seconds each variation is driven past the snapshot.
        public var seconds: Double
        /// The first variant index (held-out sets use a far-away offset).
        public var offset: Int

        public init(count: Int = 1_000, seconds: Double = 10, offset: Int = 0) {
            self.count = count
            self.seconds = seconds
            self.offset = offset
        }

        func validate() throws(LearningError) {
            guard count >= 1 else {
                throw LearningError(.invalidConfiguration, "synthesis.count must be ≥ 1, got \(count).", context: ["field": "synthesis.count"])
            }
            guard seconds > 0, seconds.isFinite else {
                throw LearningError(.invalidConfiguration, "synthesis.seconds must be > 0, got \(seconds).", context: ["field": "synthesis.seconds"])
            }
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The family a capture teaches ("capture" when it did not come from a scenario episode).
    public static func family(of capture: Capture) -> String {
        capture.episode?.family ?? "capture"
    }

    /// The variations of one capture as ready-to-drive worlds.
    public func items(for capture: Capture) -> [EvaluationItem] {
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
