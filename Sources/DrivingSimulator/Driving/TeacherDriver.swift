/// The privileged planner that labels states for the student.
///
/// It sees the true world (no noise, no fog, no latency) and looks ahead by
/// simulation: for each first action it clones the world, applies the action,
/// continues with each continuation policy — hold, follow the lead with IDM,
/// and (after a brake, a slow-down or a lane change) keep braking — for
/// `horizon` seconds, and scores the first action by its best continuation.
/// Other agents move by their behaviour models in the clones; storyboard
/// actions that have not started yet are *not* foreseen, so the teacher reacts
/// to what can be observed (a cut-in once it begins, a pedestrian once it
/// steps out) and its labels stay learnable from the observation.
///
/// Score of a rollout (higher is better):
///
///     −1000·(2 − t_crash / H) − 20·v_crash  on a collision or road departure at t_crash
///     − Σ dt · |v − v_safe| / v_safe       progress against the safe speed
///     − Σ dt · 4 · max(0, 2 s − TTC)       closeness
///     − Σ dt · 2 · shortfall / v            following distance (``headwayShortfall(_:)``)
///     − Σ dt · 3 · max(0, v − v_safe)      speeding over the safe speed
///     − action cost                        lane change 0.3, brake 0.4, speed change 0.02
///
/// `v_safe` is the limit, lowered ahead of bends so that at every point of the
/// next 400 m `v² κ ≤ 0.8·μ·g` can still be reached braking at 0.7·μ·g — on
/// ice the teacher slows before the curve instead of discovering it inside —
/// and lowered in fog so that the ego can stop within what it can see
/// (`v·0.5 s + v²/(2·0.7·μ·g) ≤ visibility`, the assured clear distance): the
/// teacher sees through fog, but a label that relied on it could not be
/// learned from the observation, so it drives as one who cannot.
///
/// A stalled car may open its door into traffic at any moment; nothing in
/// the observation says whether it will. So the teacher plans as a careful
/// driver does: in its rollouts every stalled car whose door is still shut
/// has it open (``assumedDoorWidth`` towards traffic), and it moves over or
/// slows before passing one that stands at the edge of its lane, rather than
/// relying on knowing which door stays shut.
///
/// It sees the car ahead brake the moment it does; a student sees it a
/// latency later. So the teacher keeps the following distance of a driver who
/// perceives late (``headwayShortfall(_:)``): enough to stop behind a car
/// that brakes as hard as the road allows, reacting after the latency, a
/// decision period and the brakes' build-up. A student copying it then has the
/// room to react to what it sees.
///
/// Driving under the guardrail (``obey(_:)``), it knows the rules as a driver
/// knows the traffic law: it chooses among the actions the rules let through
/// for the observation, rather than planning a lane change the rules will
/// turn into IDLE and finding out too late.
public struct TeacherDriver: Driver, Sendable {
    public var name: String { "teacher" }
    /// Look-ahead horizon, seconds.
    public var horizon: Double

    /// The rules its decisions are filtered through, if any.
    public var rules: Guardrail?

    public init(horizon: Double = 4.0, rules: Guardrail? = nil) {
        self.horizon = horizon
        self.rules = rules
    }

    public mutating func obey(_ guardrail: Guardrail) {
        rules = guardrail
    }

    enum Continuation: CaseIterable { case hold, follow, brake }

    public func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        decide(world: context.world, decisionSteps: context.decisionSteps, observation: observation)
    }

    /// The teacher's action for a world state (also used for DAgger labels); with
    /// ``rules`` and the observation, the best action the rules let through.
    public func decide(world: World, decisionSteps: Int, observation: Observation? = nil) -> MetaAction {
        var permitted = Set(MetaAction.allCases)
        if let rules, let observation {
            for action in MetaAction.allCases where rules.filter(action, observation: observation, laneWidth: world.road.laneWidth).intervened {
                permitted.remove(action)
            }
            if permitted.isEmpty { return rules.filter(.idle, observation: observation, laneWidth: world.road.laneWidth).action }
        }
        var base = world
        base.forgetPendingScripts()
        base.assumeOpenDoors(width: TeacherDriver.assumedDoorWidth)
        var bestAction = MetaAction.idle
        var bestScore = -Double.infinity
        let ego = world.actors[0]
        for action in MetaAction.allCases where permitted.contains(action) {
            if action == .laneLeft && !world.road.isOpen(lane: world.controller.targetLane + 1, at: ego.s) { continue }
            if action == .laneRight && !world.road.isOpen(lane: world.controller.targetLane - 1, at: ego.s) { continue }
            var score = -Double.infinity
            for continuation in Continuation.allCases {
                if continuation == .brake && action != .brake && action != .slower
                    && action != .laneLeft && action != .laneRight { continue }
                score = max(score, rollout(base, first: action, then: continuation, decisionSteps: decisionSteps))
            }
            score -= TeacherDriver.cost(of: action)
            if score > bestScore {
                bestScore = score
                bestAction = action
            }
        }
        return bestAction
    }

    static func cost(of action: MetaAction) -> Double {
        switch action {
        case .idle: 0
        case .faster, .slower: 0.02
        case .brake: 0.4
        case .laneLeft, .laneRight: 0.3
        }
    }

    func rollout(_ start: World, first: MetaAction, then continuation: Continuation, decisionSteps: Int) -> Double {
        var world = start
        let dt = world.timeStep
        let totalSteps = Int((horizon / dt).rounded())
        var score = 0.0
        var step = 0
        var action = first
        while step < totalSteps {
            world.apply(action)
            for _ in 0..<decisionSteps {
                world.step()
                step += 1
                if world.egoCollided || world.egoOffRoad {
                    // Later is better, and slower is better when it cannot be avoided.
                    return score - 1000 * (2 - Double(step) / Double(totalSteps)) - 20 * world.actors[0].speed
                }
                if step % 3 == 0 {
                    let ego = world.actors[0]
                    let safe = TeacherDriver.safeSpeed(world: world)
                    let v = ego.speed
                    let period = 3 * dt
                    score -= period * abs(v - safe) / max(safe, 1)
                    score -= period * 3 * max(0, v - safe)
                    let ttc = world.egoTimeToCollision(range: 100)
                    if ttc < 2 { score -= period * 4 * (2 - ttc) }
                    score -= period * 2 * TeacherDriver.headwayShortfall(world) / max(v, 1)
                }
                if step >= totalSteps { break }
            }
            action = nextAction(world, continuation)
        }
        return score
    }

    func nextAction(_ world: World, _ continuation: Continuation) -> MetaAction {
        switch continuation {
        case .hold:
            return .idle
        case .brake:
            return world.actors[0].speed > 0.5 ? .brake : .idle
        case .follow:
            let ego = world.actors[0]
            let gap = world.egoHeadway(range: 120)
            let safe = TeacherDriver.safeSpeed(world: world)
            let leaderSpeed = TeacherDriver.leadSpeed(world)
            let a = IntelligentDriverModel.acceleration(
                speed: ego.speed, desiredSpeed: safe, gap: gap.isFinite ? gap + Actor.carLength : .infinity,
                closingSpeed: ego.speed - leaderSpeed, behaviour: .highwayDefault)
            if a < -4 { return .brake }
            if a < -0.7 { return .slower }
            if a > 0.7 && world.controller.targetSpeed < safe - 1 { return .faster }
            return .idle
        }
    }

    /// Seconds the ego needs before its brakes bite after the car ahead starts braking:
    /// the perception latency, one decision period, and the brakes' build-up.
    static func reactionTime(_ world: World) -> Double {
        Double(world.latencyInFrames) * world.observationPeriod + world.observationPeriod + 0.1
    }

    /// How many metres the gap to the car ahead falls short of the careful
    /// driver's following distance: if it braked now as hard as the road
    /// allows, the ego — reacting after ``reactionTime(_:)``, braking at
    /// 0.8·μ·g — would still stop behind it. 0 with nothing ahead.
    ///
    /// A careful driver keeps this margin without knowing whether the car
    /// ahead will brake (nothing in the observation says so) and leaves more
    /// of it the later it perceives; with it a student that sees the brake
    /// lights a latency late still stops.
    static func headwayShortfall(_ world: World) -> Double {
        let gap = world.egoHeadway(range: 120)
        guard gap.isFinite else { return 0 }
        let v = world.actors[0].speed
        let lead = max(TeacherDriver.leadSpeed(world), 0)
        let grip = min(world.environment.gripLimit, World.egoMaxGrip)
        let required = v * reactionTime(world) + max(0, v * v / (1.6 * grip) - lead * lead / (2 * grip))
        return max(0, required - max(gap, 0))
    }

    /// Speed of the nearest actor ahead in the ego's corridor (its own speed if none).
    static func leadSpeed(_ world: World) -> Double {
        let ego = world.actors[0]
        var best = Double.infinity
        var speed = ego.speed
        for other in world.actors.dropFirst() where other.s > ego.s && other.s - ego.s < 120
            && abs(other.d - ego.d) < (other.width + ego.width) / 2 + 0.2 {
            if other.s - ego.s < best {
                best = other.s - ego.s
                speed = other.longitudinalSpeed
            }
        }
        return speed
    }

    /// The highest speed from which every bend in the next 400 m can be taken
    /// within 0.8·μ·g and the ego can stop within the visibility.
    public static func safeSpeed(world: World) -> Double {
        let grip = min(world.environment.gripLimit, World.egoMaxGrip)
        let advisory = world.road.advisorySpeed(from: world.actors[0].s, grip: grip)
        return min(advisory, sightSpeed(visibility: world.environment.visibility, deceleration: 0.7 * grip))
    }

    /// How far a careful driver assumes a stalled car's door may swing into traffic, metres.
    public static let assumedDoorWidth = 1.2

    /// Seconds between seeing an obstacle and braking, in the assured clear distance.
    static let sightReactionTime = 0.5

    /// The speed v with `v·t + v²/(2a) = visibility`: stopping within what can be seen.
    static func sightSpeed(visibility: Double, deceleration a: Double) -> Double {
        guard visibility.isFinite, a > 0 else { return .infinity }
        let t = sightReactionTime
        return a * (-t + (t * t + 2 * max(visibility, 0) / a).squareRoot())
    }
}

extension World {
    /// Drops storyboard actions that have not started (the teacher's rollouts do not foresee them).
    mutating func forgetPendingScripts() {
        scripts.removeAll { !$0.started }
    }

    /// Opens, by `width` towards the middle of the road, the door of every stalled car whose door is still shut.
    mutating func assumeOpenDoors(width: Double) {
        for index in actors.indices.dropFirst() where actors[index].kind == .stalled && actors[index].width <= Actor.carWidth {
            openDoor(ofActor: index, width: width)
        }
    }

    /// Widens actor `index` by `width` towards the middle of the road: its door opens into traffic.
    mutating func openDoor(ofActor index: Int, width: Double) {
        let side: Double = actors[index].d < road.width / 2 ? 1 : -1
        actors[index].width += width
        actors[index].d += side * width / 2
        actors[index].lane = road.lane(at: actors[index].d)
    }
}
