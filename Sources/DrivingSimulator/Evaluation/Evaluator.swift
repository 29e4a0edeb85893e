/// Closed-loop evaluation of a driver on a suite, scored per family.
///
/// Each episode is built from its spec, driven to its duration (or a crash)
/// with the optional guardrail, and summarized; episodes run concurrently
/// but results are gathered in suite order, so a report depends only on the
/// suite and the driver.
public enum Evaluator {
    /// Runs `makeDriver()` on every episode of `episodes`.
    public static func evaluate(episodes: [EpisodeSpec], library: ScenarioLibrary, driverName: String,
                                guardrail: Guardrail? = nil, concurrency: Int = 2,
                                makeDriver: @escaping @Sendable () -> any Driver) async throws -> EvaluationReport {
        // Build (and validate) every world first so a bad entry fails before any driving.
        var jobs: [(EpisodeSpec, Scenario, World)] = []
        for episode in episodes {
            let (scenario, world) = try library.build(episode)
            jobs.append((episode, scenario, world))
        }
        let prepared = jobs
        var outcomes = [EpisodeOutcome?](repeating: nil, count: prepared.count)
        try await withThrowingTaskGroup(of: (Int, EpisodeOutcome).self) { group in
            var next = 0
            func submit() {
                let index = next
                next += 1
                let (episode, scenario, world) = prepared[index]
                group.addTask {
                    var driver = makeDriver()
                    return (index, runEpisode(episode: episode, scenario: scenario, world: world, driver: &driver,
                                              guardrail: guardrail))
                }
            }
            for _ in 0..<min(max(concurrency, 1), prepared.count) { submit() }
            while let (index, outcome) = try await group.next() {
                outcomes[index] = outcome
                if next < prepared.count { submit() }
            }
        }
        return EvaluationReport(driver: driverName + (guardrail == nil ? "" : "+guardrail"), episodes: outcomes.map { $0! })
    }

    /// Drives one episode and summarizes it.
    public static func runEpisode(episode: EpisodeSpec, scenario: Scenario, world: World, driver: inout some Driver,
                                  guardrail: Guardrail?) -> EpisodeOutcome {
        var options = EpisodeOptions(duration: scenario.duration,
                                     decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1))
        options.guardrail = guardrail
        options.episode = episode
        let result = EpisodeRunner.run(world, driver: &driver, options: options)
        return EpisodeOutcome(id: episode.id, family: episode.family, collided: result.collided, offRoad: result.offRoad,
                              collisionWith: result.collisionWith, nearMiss: result.nearMiss,
                              interventions: result.interventions, meanSpeed: result.meanSpeed, rmsJerk: result.rmsJerk,
                              minTimeToCollision: result.minTimeToCollision.isFinite ? result.minTimeToCollision : nil,
                              time: result.time)
    }
}
