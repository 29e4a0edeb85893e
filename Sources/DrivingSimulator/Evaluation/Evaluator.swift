/// Closed-loop evaluation of a driver on a suite, scored per family.
///
/// Each episode is built from its spec, driven to its duration (or a crash)
/// with the optional guardrail, and summarized; episodes run concurrently
/// but results are gathered in suite order, so a report depends only on the
/// suite and the driver.
public enum Evaluator {
    /// Runs `makeDriver()` on every episode of `episodes` (a gold suite or sampled episodes).
    public static func evaluate(episodes: [EpisodeSpec], library: ScenarioLibrary, driverName: String,
                                guardrail: Guardrail? = nil, concurrency: Int = 2,
                                makeDriver: @escaping @Sendable () -> any Driver) async throws -> EvaluationReport {
        // Build (and validate) every world first so a bad entry fails before any driving.
        var items: [EvaluationItem] = []
        for episode in episodes {
            let (scenario, world) = try library.build(episode)
            items.append(EvaluationItem(id: episode.id, family: episode.family, world: world, duration: scenario.duration,
                                        decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1)))
        }
        return await evaluate(items: items, driverName: driverName, guardrail: guardrail, concurrency: concurrency,
                              makeDriver: makeDriver)
    }

    /// Runs `makeDriver()` on ready-built worlds (e.g. variations of captures).
    public static func evaluate(items: [EvaluationItem], driverName: String, guardrail: Guardrail? = nil,
                                concurrency: Int = 2,
                                makeDriver: @escaping @Sendable () -> any Driver) async -> EvaluationReport {
        var outcomes = [EpisodeOutcome?](repeating: nil, count: items.count)
        await withTaskGroup(of: (Int, EpisodeOutcome).self) { group in
            var next = 0
            func submit() {
                let index = next
                next += 1
                let item = items[index]
                group.addTask {
                    var driver = makeDriver()
                    return (index, run(item, driver: &driver, guardrail: guardrail))
                }
            }
            for _ in 0..<min(max(concurrency, 1), items.count) { submit() }
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                if next < items.count { submit() }
            }
        }
        return EvaluationReport(driver: driverName + (guardrail == nil ? "" : "+guardrail"), episodes: outcomes.map { $0! })
    }

    /// Drives one item and summarizes it.
    public static func run(_ item: EvaluationItem, driver: inout some Driver, guardrail: Guardrail?) -> EpisodeOutcome {
        var options = EpisodeOptions(duration: item.duration, decisionSteps: item.decisionSteps)
        options.guardrail = guardrail
        let result = EpisodeRunner.run(item.world, driver: &driver, options: options)
        return EpisodeOutcome(id: item.id, family: item.family, collided: result.collided, offRoad: result.offRoad,
                              collisionWith: result.collisionWith, nearMiss: result.nearMiss,
                              interventions: result.interventions, meanSpeed: result.meanSpeed, rmsJerk: result.rmsJerk,
                              minTimeToCollision: result.minTimeToCollision.isFinite ? result.minTimeToCollision : nil,
                              time: result.time)
    }
}

/// One world to evaluate a driver in.
public struct EvaluationItem: Sendable {
    public var id: String
    /// The family it is scored under.
    public var family: String
    public var world: World
    /// Absolute simulation time at which the episode stops, seconds.
    public var duration: Double
    public var decisionSteps: Int

    public init(id: String, family: String, world: World, duration: Double, decisionSteps: Int) {
        self.id = id
        self.family = family
        self.world = world
        self.duration = duration
        self.decisionSteps = decisionSteps
    }
}

extension VariationSampler {
    /// Variants `0 ..< count` as evaluation items that run `seconds` past the snapshot.
    public func items(count: Int, seconds: Double = 10) -> [EvaluationItem] {
        let family = capture.episode?.family ?? "capture"
        return (0..<count).map { index in
            let world = variant(index)
            return EvaluationItem(id: "\(family)-variant-\(index)", family: family, world: world,
                                  duration: world.time + seconds, decisionSteps: capture.decisionSteps)
        }
    }
}
