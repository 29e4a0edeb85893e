extension Capture {
    /// A capture made outside ``EpisodeRunner`` — e.g. by a node from a real vehicle's reconstructed scene.
    ///
    /// Why public: a capture is the unit the fleet learns from, whichever
    /// driver and whichever world produced it; an edge node watching a real
    /// car builds one from its own triggers and the scene it kept.
    public init(
        trigger: TriggerEvent, seed: UInt64, episode: EpisodeSpec?, driver: String, decisionSteps: Int,
        guardrail: [GuardrailRule]?, shadowTeacher: Bool, triggers: TriggerConfiguration, snapshot: World,
        variationRanges: VariationRanges
    ) {
        self.init(
            schema: Capture.schema, trigger: trigger, seed: seed, episode: episode, driver: driver, decisionSteps: decisionSteps,
            guardrail: guardrail, shadowTeacher: shadowTeacher, triggers: triggers, snapshot: snapshot,
            variationRanges: variationRanges)
    }
}
