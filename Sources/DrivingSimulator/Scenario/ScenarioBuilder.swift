/// Turns a scenario, a seed and parameter values into a ready-to-run `World`.
///
/// Everything that varies between episodes of a family comes from here: the
/// parameter values (given, or sampled with `sampleParameters`), background
/// traffic placed by a generator seeded with the episode seed, per-vehicle
/// behaviour randomization, and the sensor generator's seed. Same inputs,
/// same world, bit for bit.
public enum ScenarioBuilder {
    /// Draws every declared parameter (in name order) for episode `seed` at `difficulty`.
    public static func sampleParameters(_ scenario: Scenario, seed: UInt64, difficulty: Double? = nil) -> [String: Double] {
        var generator = SeededGenerator(seed: SeededGenerator.mix(seed, 0xA11CE))
        var values: [String: Double] = [:]
        for name in scenario.parameterNames {
            values[name] = scenario.parameters[name]!.sample(using: &generator, difficulty: difficulty ?? scenario.difficulty)
        }
        return values
    }

    /// An episode spec with sampled parameters.
    public static func episode(_ scenario: Scenario, index: Int, baseSeed: UInt64? = nil, difficulty: Double? = nil) -> EpisodeSpec {
        let seed = SeededGenerator.mix(baseSeed ?? scenario.seed, UInt64(index)) & EpisodeSpec.seedMask
        let id = scenario.family + "-" + String(index).leftPadded(to: 3)
        return EpisodeSpec(id: id, family: scenario.family, scenario: scenario.file, seed: seed,
                           parameters: sampleParameters(scenario, seed: seed, difficulty: difficulty))
    }

    /// Builds the world of an episode.
    public static func build(_ scenario: Scenario, episode: EpisodeSpec) throws -> World {
        try build(scenario, seed: episode.seed, parameters: episode.parameters)
    }

    /// Builds the world for `seed` with `parameters` (undeclared names are an error; missing ones take their midpoint).
    public static func build(_ scenario: Scenario, seed: UInt64, parameters: [String: Double]) throws -> World {
        for name in parameters.keys.sorted() {
            guard let declared = scenario.parameters[name] else {
                throw SimulationError(code: .unknownReference,
                                      message: "parameter '\(name)' is not declared by the scenario",
                                      file: scenario.file, field: "parameters.\(name)")
            }
            let value = parameters[name]!
            guard value.isFinite, value >= declared.lowerBound - 1e-9, value <= declared.upperBound + 1e-9 else {
                throw SimulationError(code: .invalidValue,
                                      message: "value \(value) is outside the declared \(declared.lowerBound)…\(declared.upperBound)",
                                      file: scenario.file, field: "parameters.\(name)")
            }
        }
        func v(_ value: ScenarioValue) -> Double {
            switch value {
            case .constant(let number): number
            case .parameter(let name): parameters[name] ?? scenario.parameters[name]!.midpoint
            }
        }
        var generator = SeededGenerator(seed: seed)
        let spec = scenario.road
        let road = Road(
            laneCount: spec.lanes, laneWidth: spec.laneWidth,
            segments: spec.segments.map { RoadSegment(length: v($0.length), curvature: v($0.curvature), speedLimit: v($0.speedLimit)) },
            closures: spec.closures.map { LaneClosure(lane: $0.lane, from: v($0.from), to: max(v($0.to), v($0.from) + 1), cones: $0.cones) })
        var ego = Actor(kind: .ego, s: v(scenario.ego.s), d: road.laneCentre(scenario.ego.lane), speed: v(scenario.ego.speed),
                        length: Actor.carLength, width: Actor.carWidth, lane: scenario.ego.lane,
                        targetSpeed: v(scenario.ego.speed))
        ego.changesLanes = false
        var actors = [ego]
        var scripts: [ScriptedAction] = []
        for agent in scenario.agents {
            let index = actors.count
            actors.append(makeAgent(agent, road: road, egoS: ego.s, value: v))
            for action in agent.actions {
                scripts.append(ScriptedAction(actor: index, condition: condition(action, v), kind: kind(action, v)))
            }
        }
        for closure in road.closures where closure.cones {
            addCones(for: closure, road: road, to: &actors)
        }
        if let traffic = scenario.traffic {
            addTraffic(traffic, road: road, egoS: ego.s, value: v, generator: &generator, to: &actors)
        }
        let environment = Environment(friction: v(scenario.environment.friction), visibility: v(scenario.environment.visibility),
                                      sensorNoise: v(scenario.environment.sensorNoise), dropout: v(scenario.environment.dropout),
                                      latency: v(scenario.environment.latency))
        var world = World(road: road, environment: environment, actors: actors, scripts: scripts,
                          sensorSeed: SeededGenerator.mix(seed, 0x5E45))
        world.observationPeriod = scenario.decisionPeriod
        world.frictionEstimate = clamp(environment.friction + 0.03 * generator.gaussian(), 0.05, 1.2)
        return world
    }

    static func makeAgent(_ agent: Scenario.AgentSpec, road: Road, egoS: Double, value v: (ScenarioValue) -> Double) -> Actor {
        let (length, width): (Double, Double) = switch agent.kind {
        case .truck: (Actor.truckLength, Actor.truckWidth)
        case .cone: (Actor.coneSize, Actor.coneSize)
        case .pedestrian: (Actor.pedestrianSize, Actor.pedestrianSize)
        default: (Actor.carLength, Actor.carWidth)
        }
        let d: Double
        if agent.lane < 0 { d = -1.5 + v(agent.offset) }
        else if agent.lane >= road.laneCount { d = road.width + 1.5 + v(agent.offset) }
        else { d = road.laneCentre(agent.lane) + v(agent.offset) }
        let moving = agent.kind == .car || agent.kind == .truck
        let speed = moving ? v(agent.speed) : 0
        var actor = Actor(kind: agent.kind, s: egoS + v(agent.ahead), d: d, speed: speed, length: length, width: width,
                          lane: road.lane(at: d), targetSpeed: agent.targetSpeed.map(v) ?? speed)
        actor.changesLanes = moving && agent.changesLanes
        actor.inattentive = !agent.attentive
        actor.targetLane = max(min(agent.lane, road.laneCount - 1), 0)
        return actor
    }

    static func condition(_ action: Scenario.ActionSpec, _ v: (ScenarioValue) -> Double) -> ScriptedAction.StartCondition {
        switch action.trigger {
        case .time: .time(v(action.triggerValue))
        case .distance: .distance(v(action.triggerValue))
        case .ttc: .timeToCollision(v(action.triggerValue))
        }
    }

    static func kind(_ action: Scenario.ActionSpec, _ v: (ScenarioValue) -> Double) -> ScriptedAction.Kind {
        switch action.kind {
        case .cutIn, .cutOut, .laneChange:
            .laneChange(lane: action.lane ?? 0, lateralSpeed: action.rate.map(v) ?? 1.5)
        case .brake:
            .brake(deceleration: action.deceleration.map(v) ?? 6, toSpeed: action.speed.map(v) ?? 0)
        case .stop:
            .stop(deceleration: action.deceleration.map(v) ?? 4)
        case .openDoor:
            .openDoor(width: action.width.map(v) ?? 0.9)
        case .cross:
            .cross(speed: action.rate.map(v) ?? 1.4, direction: action.direction ?? 1)
        case .setSpeed:
            .setSpeed(speed: action.speed.map(v) ?? 0)
        }
    }

    /// A taper of cones across the lane at the start of a closure, then one every 20 m inside it.
    static func addCones(for closure: LaneClosure, road: Road, to actors: inout [Actor]) {
        let centre = road.laneCentre(closure.lane)
        let w = road.laneWidth
        let taper: [(Double, Double)] = [(0, -0.35 * w), (3, -0.1 * w), (6, 0.15 * w), (9, 0.35 * w)]
        for (ds, dd) in taper {
            actors.append(Actor(kind: .cone, s: closure.from + ds, d: centre + dd, speed: 0, length: Actor.coneSize,
                                width: Actor.coneSize, lane: closure.lane, targetSpeed: 0))
        }
        var s = closure.from + 29
        var count = 0
        while s < closure.to && count < 40 {
            actors.append(Actor(kind: .cone, s: s, d: centre, speed: 0, length: Actor.coneSize, width: Actor.coneSize,
                                lane: closure.lane, targetSpeed: 0))
            s += 20
            count += 1
        }
    }

    static func addTraffic(_ spec: Scenario.TrafficSpec, road: Road, egoS: Double, value v: (ScenarioValue) -> Double,
                           generator: inout SeededGenerator, to actors: inout [Actor]) {
        let count = Int(v(spec.vehicles).rounded())
        let lanes = spec.lanes
        guard count > 0, !lanes.isEmpty else { return }
        let from = v(spec.from), to = max(v(spec.to), v(spec.from) + 1)
        let minSpeed = v(spec.minSpeed), maxSpeed = max(v(spec.maxSpeed), v(spec.minSpeed))
        let truckShare = v(spec.truckShare), spread = v(spec.behaviourSpread)
        // Per lane, the s of placed actors, kept sorted for the spacing check.
        var occupied = [[Double]](repeating: [], count: road.laneCount)
        for actor in actors where actor.lane >= 0 { occupied[actor.lane].append(actor.s) }
        for lane in occupied.indices { occupied[lane].sort() }
        for _ in 0..<count {
            for _ in 0..<30 {
                let lane = lanes[Int(generator.unit() * Double(lanes.count))]
                let s = egoS + generator.uniform(from, to)
                let limit = road.speedLimit(at: max(s, 0))
                let speed = min(generator.uniform(minSpeed, maxSpeed), limit * 1.1)
                let truck = generator.unit() < truckShare
                let spacing = (truck ? Actor.truckLength : Actor.carLength) + 6 + 0.6 * speed
                guard s > 0, s < road.length - 20, road.isOpen(lane: lane, at: s),
                      road.distanceToLaneEnd(lane: lane, from: s) > 60 else { continue }
                let list = occupied[lane]
                var lo = 0, hi = list.count
                while lo < hi { let mid = (lo + hi) / 2; if list[mid] < s { lo = mid + 1 } else { hi = mid } }
                if lo < list.count && list[lo] - s < spacing { continue }
                if lo > 0 && s - list[lo - 1] < spacing { continue }
                occupied[lane].insert(s, at: lo)
                var behaviour = DriverBehaviour.highwayDefault.randomized(using: &generator, spread: spread)
                if truck { behaviour.maxAcceleration *= 0.6 }
                var actor = Actor(kind: truck ? .truck : .car, s: s, d: road.laneCentre(lane), speed: speed,
                                  length: truck ? Actor.truckLength : Actor.carLength,
                                  width: truck ? Actor.truckWidth : Actor.carWidth, lane: lane,
                                  targetSpeed: min(speed + generator.uniform(0, 3), limit * (truck ? 0.85 : 1.05)),
                                  behaviour: behaviour)
                actor.laneChangeTimer = generator.unit() * TrafficModel.laneChangeInterval
                actors.append(actor)
                break
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
