/// The complete state of one simulated stretch of road: the thing a driver drives in.
///
/// A value type: copying a `World` clones it (the teacher looks ahead in
/// copies), encoding it snapshots it (captures store it), and the same
/// initial `World` stepped with the same actions yields bit-identical
/// trajectories. Actor 0 is always the ego. Everything lives in flat arrays
/// of plain structs; `step` allocates nothing.
///
/// One `step()` advances `timeStep` seconds (1/15 s by default, highway-env's
/// simulation frequency): scripted actions whose start condition holds fire,
/// traffic chooses accelerations (IDM) and lanes (MOBIL, once a second per
/// vehicle), everyone moves, the neighbour index is re-sorted, and boxes that
/// are near each other in the index are tested for overlap.
public struct World: Sendable {
    public internal(set) var road: Road
    public internal(set) var environment: Environment
    /// All actors; index 0 is the ego.
    public internal(set) var actors: [Actor]
    /// The storyboard.
    public internal(set) var scripts: [ScriptedAction]
    /// Simulated time, seconds.
    public internal(set) var time: Double
    /// Steps taken.
    public internal(set) var stepCount: Int
    /// Seconds per step.
    public let timeStep: Double
    /// The ego's low-level controller state (target lane and speed).
    public internal(set) var controller: EgoController
    /// Whether the ego has hit something.
    public internal(set) var egoCollided: Bool
    /// Whether the ego has left the drivable surface.
    public internal(set) var egoOffRoad: Bool
    /// The actor the ego hit (-1 none).
    public internal(set) var collisionPartner: Int
    /// Drives sensor noise and dropout; part of the state so replays match.
    var sensorGenerator: SeededGenerator
    /// The driver's estimate of μ (what a real car infers from wheel slip).
    public internal(set) var frictionEstimate: Double
    /// Seconds between two observations (the decision period); latency is counted in these.
    public internal(set) var observationPeriod: Double
    /// Frames produced but not yet delivered (latency), oldest first, `Observation.size` each.
    var latencyFrames: [Float]
    /// Number of valid frames in `latencyFrames`.
    var latencyFrameCount: Int
    /// The ego's tracker: per actor index, its last detection (nil = never detected).
    var tracks: [SensorTrack?]
    /// The neighbour index (derived; rebuilt on decode).
    var occupancy: LaneOccupancy

    /// The ego actor.
    @inline(__always) public var ego: Actor { actors[0] }

    /// Creates a world. `actors[0]` must be the ego.
    public init(road: Road, environment: Environment, actors: [Actor], scripts: [ScriptedAction] = [],
                sensorSeed: UInt64, timeStep: Double = 1.0 / 15.0) {
        precondition(!actors.isEmpty && actors[0].kind == .ego, "actor 0 must be the ego")
        self.road = road
        self.environment = environment
        var placed = actors
        for i in placed.indices { placed[i].lane = road.lane(at: placed[i].d) }
        self.actors = placed
        self.scripts = scripts
        self.time = 0
        self.stepCount = 0
        self.timeStep = timeStep
        self.controller = EgoController(targetLane: max(placed[0].lane, 0), targetSpeed: placed[0].speed)
        self.egoCollided = false
        self.egoOffRoad = false
        self.collisionPartner = -1
        self.sensorGenerator = SeededGenerator(seed: sensorSeed)
        self.frictionEstimate = environment.friction
        self.observationPeriod = 0.2
        self.latencyFrames = []
        self.latencyFrameCount = 0
        self.tracks = []
        self.occupancy = LaneOccupancy(actors: placed, laneCount: road.laneCount)
    }

    /// Whether the episode cannot continue (crash, off road, or the road ran out).
    public var isTerminal: Bool {
        egoCollided || egoOffRoad || actors[0].s >= road.length - 5
    }

    /// Forgets that the ego crashed so a fixed-length rollout can go on (the flags are sticky otherwise).
    mutating func clearCrash() {
        egoCollided = false
        egoOffRoad = false
        collisionPartner = -1
    }

    /// Applies a driver's decision to the ego's controllers.
    public mutating func apply(_ action: MetaAction) {
        controller.apply(action, currentSpeed: actors[0].speed, currentLane: actors[0].lane,
                         laneCount: road.laneCount)
    }

    /// Applies `action` and then runs `steps` simulation steps (a decision period).
    public mutating func advance(with action: MetaAction, steps: Int) {
        apply(action)
        for _ in 0..<steps {
            step()
            if isTerminal { break }
        }
    }
}

extension World: Codable {
    enum CodingKeys: String, CodingKey {
        case road, environment, actors, scripts, time, stepCount, timeStep, controller
        case egoCollided, egoOffRoad, collisionPartner, sensorGenerator
        case frictionEstimate, observationPeriod, latencyFrames, latencyFrameCount, tracks
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        road = try c.decode(Road.self, forKey: .road)
        environment = try c.decode(Environment.self, forKey: .environment)
        actors = try c.decode([Actor].self, forKey: .actors)
        scripts = try c.decode([ScriptedAction].self, forKey: .scripts)
        time = try c.decode(Double.self, forKey: .time)
        stepCount = try c.decode(Int.self, forKey: .stepCount)
        timeStep = try c.decode(Double.self, forKey: .timeStep)
        controller = try c.decode(EgoController.self, forKey: .controller)
        egoCollided = try c.decode(Bool.self, forKey: .egoCollided)
        egoOffRoad = try c.decode(Bool.self, forKey: .egoOffRoad)
        collisionPartner = try c.decode(Int.self, forKey: .collisionPartner)
        sensorGenerator = try c.decode(SeededGenerator.self, forKey: .sensorGenerator)
        frictionEstimate = try c.decode(Double.self, forKey: .frictionEstimate)
        observationPeriod = try c.decode(Double.self, forKey: .observationPeriod)
        latencyFrames = try c.decode([Float].self, forKey: .latencyFrames)
        latencyFrameCount = try c.decode(Int.self, forKey: .latencyFrameCount)
        // Snapshots from before the tracker start with an empty one.
        tracks = try c.decodeIfPresent([SensorTrack?].self, forKey: .tracks) ?? []
        guard tracks.count <= actors.count else {
            throw DecodingError.dataCorruptedError(forKey: .tracks, in: c, debugDescription: "more tracks than actors")
        }
        guard !actors.isEmpty, actors[0].kind == .ego else {
            throw DecodingError.dataCorruptedError(forKey: .actors, in: c, debugDescription: "actor 0 must be the ego")
        }
        occupancy = LaneOccupancy(actors: actors, laneCount: road.laneCount)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(road, forKey: .road)
        try c.encode(environment, forKey: .environment)
        try c.encode(actors, forKey: .actors)
        try c.encode(scripts, forKey: .scripts)
        try c.encode(time, forKey: .time)
        try c.encode(stepCount, forKey: .stepCount)
        try c.encode(timeStep, forKey: .timeStep)
        try c.encode(controller, forKey: .controller)
        try c.encode(egoCollided, forKey: .egoCollided)
        try c.encode(egoOffRoad, forKey: .egoOffRoad)
        try c.encode(collisionPartner, forKey: .collisionPartner)
        try c.encode(sensorGenerator, forKey: .sensorGenerator)
        try c.encode(frictionEstimate, forKey: .frictionEstimate)
        try c.encode(observationPeriod, forKey: .observationPeriod)
        try c.encode(latencyFrames, forKey: .latencyFrames)
        try c.encode(latencyFrameCount, forKey: .latencyFrameCount)
        try c.encode(tracks, forKey: .tracks)
    }
}
