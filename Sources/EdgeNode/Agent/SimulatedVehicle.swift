public import DrivingSimulator

/// The built-in observation source: a simulated vehicle driving episode after episode in one region.
///
/// Episode i is `region.episode(i, seed:)` — a family drawn by the region's
/// weights, its parameters sampled, the region's conditions applied — so a
/// node's drive is reproducible from its seed. Each episode runs with the
/// guardrail and the triggers on; every trigger yields a capture.
public struct SimulatedVehicle: Sendable {
    public let region: Region
    public let library: ScenarioLibrary
    public let guardrail: Guardrail?
    public let triggers: TriggerConfiguration
    /// Whether the teacher watches in shadow mode (fires `teacherDisagreement`).
    public let shadowTeacher: Bool
    public let seed: UInt64
    /// Seconds before a trigger that its capture's snapshot is taken (at most about five are kept).
    public let captureLead: Double
    /// The next episode's index.
    public private(set) var episodeIndex: Int

    public init(
        region: Region, library: ScenarioLibrary, guardrail: Guardrail?, triggers: TriggerConfiguration = TriggerConfiguration(),
        shadowTeacher: Bool = false, seed: UInt64, firstEpisode: Int = 0, captureLead: Double = 2
    ) {
        self.captureLead = captureLead
        self.region = region
        self.library = library
        self.guardrail = guardrail
        self.triggers = triggers
        self.shadowTeacher = shadowTeacher
        self.seed = seed
        episodeIndex = firstEpisode
    }

    /// Drives the next episode with `driver`.
    public mutating func driveEpisode(with driver: inout some Driver) throws(AgentError) -> EpisodeResult {
        let index = episodeIndex
        episodeIndex += 1
        let episode: EpisodeSpec, world: World
        do {
            (episode, world) = try region.episode(index, seed: seed, library: library)
        } catch {
            throw AgentError(.simulatorContent, "region '\(region.name)' cannot build episode \(index): \(error)")
        }
        guard let scenario = library.scenario(family: episode.family) else {
            throw AgentError(.simulatorContent, "region '\(region.name)' drew unknown family '\(episode.family)'")
        }
        var options = EpisodeOptions(
            duration: scenario.duration, decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1))
        options.triggers = triggers
        options.guardrail = guardrail
        options.shadowTeacher = shadowTeacher ? TeacherDriver() : nil
        options.episode = episode
        options.seed = episode.seed
        options.captureLead = captureLead
        return EpisodeRunner.run(world, driver: &driver, options: options)
    }
}
