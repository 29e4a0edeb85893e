/// How an episode is run.
public struct EpisodeOptions: Sendable {
    /// Stop when simulated time reaches this, seconds (absolute world time).
    public var duration: Double
    /// Simulation steps per decision.
    public var decisionSteps: Int
    /// Trigger thresholds; nil disables triggers and captures.
    public var triggers: TriggerConfiguration?
    /// A safety filter over the driver.
    public var guardrail: Guardrail?
    /// A teacher watching in shadow mode (disagreement trigger).
    public var shadowTeacher: TeacherDriver?
    /// Seconds between the snapshot a capture keeps and its trigger.
    public var captureLead: Double
    /// Whether to fold every actor's state into `trajectoryDigest` each step.
    public var recordDigest: Bool
    /// The episode, written into captures.
    public var episode: EpisodeSpec?
    /// The seed written into captures when there is no episode.
    public var seed: UInt64
    /// Whether a crash ends the episode (false keeps simulating to the duration, e.g. fixed-length rollouts).
    public var stopOnCrash: Bool
    /// The variation ranges written into captures.
    public var variationRanges: VariationRanges

    public init(duration: Double, decisionSteps: Int = 3) {
        self.duration = duration
        self.decisionSteps = max(decisionSteps, 1)
        self.triggers = nil
        self.guardrail = nil
        self.shadowTeacher = nil
        self.captureLead = 2
        self.recordDigest = false
        self.episode = nil
        self.seed = 0
        self.stopOnCrash = true
        self.variationRanges = VariationRanges()
    }
}

/// What happened in one episode.
public struct EpisodeResult: Sendable, Codable {
    public var collided: Bool
    public var offRoad: Bool
    /// Kind of what the ego hit, if anything.
    public var collisionWith: String?
    /// Simulated seconds driven.
    public var time: Double
    /// Metres driven along the road.
    public var distance: Double
    public var meanSpeed: Double
    /// Smallest true TTC seen, seconds.
    public var minTimeToCollision: Double
    /// No crash, but TTC fell below 1 s.
    public var nearMiss: Bool
    /// Root-mean-square longitudinal jerk, m/s³.
    public var rmsJerk: Double
    /// Guardrail interventions.
    public var interventions: Int
    public var decisions: Int
    /// Triggers in firing order (each kind at most once).
    public var triggers: [TriggerEvent]
    /// Captures made (one per trigger).
    public var captures: [Capture]
    /// Fold of every actor's state at every step (when requested).
    public var trajectoryDigest: UInt64
    /// Actions taken, by `MetaAction.rawValue`.
    public var actionCounts: [Int]

    /// Collision or road departure.
    public var crashed: Bool { collided || offRoad }
}

/// Runs a driver in a world: the closed loop of observe → decide → act → step, with triggers.
public enum EpisodeRunner {
    /// Near-miss threshold on TTC, seconds.
    public static let nearMissTimeToCollision = 1.0

    /// Runs until the duration, a crash, or the end of the road.
    public static func run(_ start: World, driver: inout some Driver, options: EpisodeOptions) -> EpisodeResult {
        if let guardrail = options.guardrail { driver.obey(guardrail) }
        var world = start
        var observation = Observation()
        let dt = world.timeStep
        let startS = world.actors[0].s
        let startTime = world.time
        var result = EpisodeResult(collided: false, offRoad: false, collisionWith: nil, time: 0, distance: 0, meanSpeed: 0,
                                   minTimeToCollision: .infinity, nearMiss: false, rmsJerk: 0, interventions: 0,
                                   decisions: 0, triggers: [], captures: [], trajectoryDigest: 0xCBF2_9CE4_8422_2325,
                                   actionCounts: [Int](repeating: 0, count: MetaAction.count))
        var fired = Set<TriggerEvent.Kind>()
        var snapshots: [World] = []
        let snapshotEvery = max(Int((1.0 / (dt * Double(options.decisionSteps))).rounded()), 1)
        var disagreements = 0
        var previousAcceleration = world.actors[0].acceleration
        var jerkSquares = 0.0
        var steps = 0
        var collidedBefore = false, offRoadBefore = false, partnerBefore = -1

        func fire(_ kind: TriggerEvent.Kind, value: Double, detail: String) {
            guard let configuration = options.triggers, configuration.enabled.contains(kind),
                  !fired.contains(kind) else { return }
            fired.insert(kind)
            let event = TriggerEvent(kind: kind, time: world.time, step: world.stepCount, value: value, detail: detail)
            result.triggers.append(event)
            let target = world.time - options.captureLead
            let snapshot = snapshots.last(where: { $0.time <= target + 1e-9 }) ?? snapshots.first ?? start
            result.captures.append(Capture(
                schema: Capture.schema, trigger: event, seed: options.episode?.seed ?? options.seed, episode: options.episode,
                driver: driver.name, decisionSteps: options.decisionSteps, guardrail: options.guardrail?.rules,
                shadowTeacher: options.shadowTeacher != nil, triggers: configuration, snapshot: snapshot,
                variationRanges: options.variationRanges))
        }

        var decision = 0
        func finished() -> Bool {
            world.time >= options.duration - 1e-9 || (options.stopOnCrash ? world.isTerminal : world.actors[0].s >= world.road.length - 5)
        }
        while !finished() {
            if options.triggers != nil && decision % snapshotEvery == 0 {
                snapshots.append(world)
                if snapshots.count > 6 { snapshots.removeFirst() }
            }
            decision += 1
            world.observe(into: &observation)
            let context = DriverContext(world: world, decisionSteps: options.decisionSteps)
            var action = driver.decide(observation, context: context)
            if let guardrail = options.guardrail {
                let verdict = guardrail.filter(action, observation: observation, laneWidth: world.road.laneWidth)
                if let rule = verdict.rule {
                    result.interventions += 1
                    fire(.guardrailOverride, value: Double(verdict.action.rawValue), detail: "\(rule): \(action) → \(verdict.action)")
                }
                action = verdict.action
            }
            if let teacher = options.shadowTeacher {
                let label = teacher.decide(world: world, decisionSteps: options.decisionSteps)
                disagreements = label == action ? 0 : disagreements + 1
                if let configuration = options.triggers, disagreements >= configuration.disagreementDecisions {
                    fire(.teacherDisagreement, value: Double(disagreements), detail: "driver \(action), teacher \(label)")
                }
            }
            result.actionCounts[action.rawValue] += 1
            result.decisions += 1
            world.apply(action)
            for _ in 0..<options.decisionSteps {
                if !options.stopOnCrash && (world.egoCollided || world.egoOffRoad) {
                    collidedBefore = collidedBefore || world.egoCollided
                    offRoadBefore = offRoadBefore || world.egoOffRoad
                    if world.egoCollided { partnerBefore = world.collisionPartner }
                    world.clearCrash()
                }
                world.step()
                steps += 1
                let ego = world.actors[0]
                let jerk = (ego.acceleration - previousAcceleration) / dt
                previousAcceleration = ego.acceleration
                jerkSquares += jerk * jerk
                let ttc = world.egoTimeToCollision()
                result.minTimeToCollision = min(result.minTimeToCollision, ttc)
                if options.recordDigest { result.trajectoryDigest = digest(result.trajectoryDigest, world) }
                if let configuration = options.triggers {
                    if world.egoCollided {
                        let partner = world.actors[world.collisionPartner].kind
                        fire(.collision, value: Double(world.collisionPartner), detail: "\(partner)")
                    }
                    if world.egoOffRoad { fire(.offRoad, value: ego.d, detail: "d = \(ego.d)") }
                    if ttc < configuration.timeToCollision { fire(.timeToCollision, value: ttc, detail: "") }
                    if -ego.acceleration > configuration.hardBraking {
                        fire(.hardBraking, value: -ego.acceleration, detail: "")
                    }
                    if configuration.enabled.contains(.gripLimit) && !fired.contains(.gripLimit) {
                        let cornering = ego.speed * ego.speed * abs(world.road.curvature(at: ego.s))
                        let grip = min(world.environment.gripLimit, World.egoMaxGrip)
                        if cornering > TriggerConfiguration.gripShare * grip {
                            fire(.gripLimit, value: cornering / grip, detail: "\(Int((100 * cornering / grip).rounded())) % of the grip in the bend")
                        }
                    }
                }
                if finished() { break }
            }
        }
        result.collided = world.egoCollided || collidedBefore
        result.offRoad = world.egoOffRoad || offRoadBefore
        let partner = world.egoCollided ? world.collisionPartner : partnerBefore
        if partner >= 0 { result.collisionWith = "\(world.actors[partner].kind)" }
        result.time = world.time - startTime
        result.distance = world.actors[0].s - startS
        result.meanSpeed = result.time > 0 ? result.distance / result.time : 0
        result.rmsJerk = steps > 0 ? (jerkSquares / Double(steps)).squareRoot() : 0
        result.nearMiss = !result.crashed && result.minTimeToCollision < nearMissTimeToCollision
        return result
    }

    /// FNV-style fold of the bit patterns of every actor's position, heading and speed.
    static func digest(_ seed: UInt64, _ world: World) -> UInt64 {
        var h = seed
        for actor in world.actors {
            h = (h ^ actor.s.bitPattern) &* 0x100_0000_01B3
            h = (h ^ actor.d.bitPattern) &* 0x100_0000_01B3
            h = (h ^ actor.heading.bitPattern) &* 0x100_0000_01B3
            h = (h ^ actor.speed.bitPattern) &* 0x100_0000_01B3
        }
        return h
    }
}
