public import DrivingSimulator
public import PolicyNetwork

/// Runs a policy on a suite in the simulator and scores it per family.
///
/// One place for the node (how did I do before and after adapting?), the
/// coordinator's regression gate (does the candidate beat the current model on
/// the gold suite?) and the fleet simulation, so that all three measure the
/// same thing the same way: closed-loop episodes driven by a ``PolicyDriver``,
/// summarized as the simulator's ``EvaluationReport`` (collision-free %, near
/// misses, guardrail interventions, speed, jerk per family).
public enum PolicyEvaluation {
    /// Drives `policy` through every episode of `suite` (normally the gold suite).
    ///
    /// - Parameters:
    ///   - guardrail: the safety filter to drive under, if any (the gate counts its interventions).
    ///   - concurrency: episodes driven at once; results do not depend on it.
    /// - Throws: ``EvaluationError`` when the policy cannot drive, or the
    ///   simulator's error when an episode does not build.
    public static func evaluate(
        _ policy: MoEPolicy, suite: GoldSuite, library: ScenarioLibrary, name: String = "policy",
        guardrail: Guardrail? = nil, concurrency: Int = 2
    ) async throws -> EvaluationReport {
        try policy.architecture.validateForDriving()
        return try await Evaluator.evaluate(
            episodes: suite.episodes, library: library, driverName: name, guardrail: guardrail, concurrency: concurrency
        ) { try! PolicyDriver(policy: policy, name: name) }
    }

    /// Drives `policy` through ready-built worlds (held-out variations, region episodes).
    public static func evaluate(
        _ policy: MoEPolicy, items: [EvaluationItem], name: String = "policy",
        guardrail: Guardrail? = nil, concurrency: Int = 2
    ) async throws(EvaluationError) -> EvaluationReport {
        try policy.architecture.validateForDriving()
        return await Evaluator.evaluate(items: items, driverName: name, guardrail: guardrail, concurrency: concurrency) {
            try! PolicyDriver(policy: policy, name: name)
        }
    }
}

/// Variations of a capture kept apart from training, to measure what a lesson generalizes to.
///
/// A node trains on variants `0 ..< K` of a capture (seeds `mix(capture seed, i)`);
/// held-out variants start at ``defaultOffset``, far past any K in use, so
/// their seeds — and so their speeds, gaps, friction, visibility, noise and
/// traffic behaviour — are never ones the model was trained on.
public enum HeldOutVariations {
    /// The first held-out variant index.
    public static let defaultOffset = 1 << 30

    /// `count` held-out variants of `capture`, each driven `seconds` past the snapshot.
    public static func items(
        of capture: Capture, count: Int, offset: Int = defaultOffset, seconds: Double = 10
    ) -> [EvaluationItem] {
        let sampler = VariationSampler(capture: capture)
        let family = capture.episode?.family ?? "capture"
        return (0..<count).map { i in
            let world = sampler.variant(offset + i)
            return EvaluationItem(
                id: "\(family)-heldout-\(i)", family: family, world: world, duration: world.time + seconds,
                decisionSteps: capture.decisionSteps)
        }
    }
}
