/// How far variations of a capture may stray from it.
///
/// Each field is a relative (±fraction) or absolute spread; a variant draws
/// every perturbation uniformly inside it. These are the "declared parameters"
/// of a capture's variation space: speeds, gaps, friction, visibility, sensor
/// noise, dropout, agent behaviour and storyboard trigger values.
public struct VariationRanges: Sendable, Codable, Equatable {
    /// ± fraction applied to each actor's speed (the ego's too).
    public var speed: Double
    /// ± fraction applied to each actor's distance from the ego along the road.
    public var gap: Double
    /// ± fraction applied to friction.
    public var friction: Double
    /// ± fraction applied to visibility.
    public var visibility: Double
    /// Added sensor noise σ is drawn in [0, this], metres.
    public var sensorNoise: Double
    /// Added dropout probability is drawn in [0, this].
    public var dropout: Double
    /// Per-vehicle behaviour randomization spread (see `DriverBehaviour.randomized`).
    public var behaviour: Double
    /// ± fraction applied to storyboard trigger values (times, distances, TTCs).
    public var trigger: Double

    public init(speed: Double = 0.1, gap: Double = 0.15, friction: Double = 0.2, visibility: Double = 0.3,
                sensorNoise: Double = 0.3, dropout: Double = 0.05, behaviour: Double = 0.2, trigger: Double = 0.15) {
        self.speed = speed
        self.gap = gap
        self.friction = friction
        self.visibility = visibility
        self.sensorNoise = sensorNoise
        self.dropout = dropout
        self.behaviour = behaviour
        self.trigger = trigger
    }
}

/// Synthesizes variations of a capture: variant i perturbs the snapshot with seed `mix(capture.seed, i)`.
///
/// Any variant can be rebuilt alone from its index, and the same capture,
/// ranges and index always give the same world. Cheap: a variant is a copy of
/// the snapshot's flat arrays plus a pass over its actors.
public struct VariationSampler: Sendable {
    public let capture: Capture
    public let ranges: VariationRanges

    /// A sampler over `ranges`, by default the ranges declared in the capture.
    public init(capture: Capture, ranges: VariationRanges? = nil) {
        self.capture = capture
        self.ranges = ranges ?? capture.variationRanges
    }

    /// The seed of variant `index`.
    public func seed(of index: Int) -> UInt64 {
        SeededGenerator.mix(capture.seed, UInt64(index))
    }

    /// Builds variant `index`.
    public func variant(_ index: Int) -> World {
        var generator = SeededGenerator(seed: seed(of: index))
        var world = capture.snapshot
        let ego = world.actors[0]
        @inline(__always) func jitter(_ spread: Double, _ g: inout SeededGenerator) -> Double {
            spread > 0 ? 1 + g.uniform(-spread, spread) : 1
        }
        for i in world.actors.indices {
            var actor = world.actors[i]
            if i == 0 {
                actor.speed *= jitter(ranges.speed * 0.5, &generator)
                world.controller.targetSpeed = actor.speed
            } else if !actor.kind.isStatic && actor.kind != .pedestrian {
                let scale = jitter(ranges.speed, &generator)
                actor.speed *= scale
                actor.targetSpeed *= scale
                actor.behaviour = actor.behaviour.randomized(using: &generator, spread: ranges.behaviour)
            }
            if i != 0 {
                let offset = actor.s - ego.s
                if abs(offset) < 200 {
                    // Never push an actor through the ego.
                    let scaled = offset * jitter(ranges.gap, &generator)
                    let minimum = (actor.length + ego.length) / 2 + 0.5
                    actor.s = ego.s + (abs(scaled) < minimum && abs(offset) >= minimum ? (offset < 0 ? -minimum : minimum) : scaled)
                }
            }
            world.actors[i] = actor
        }
        for k in world.scripts.indices where !world.scripts[k].started {
            let factor = jitter(ranges.trigger, &generator)
            switch world.scripts[k].condition {
            case .time(let t): world.scripts[k].condition = .time(world.time + (t - world.time) * factor)
            case .distance(let metres): world.scripts[k].condition = .distance(metres * factor)
            case .timeToCollision(let seconds): world.scripts[k].condition = .timeToCollision(seconds * factor)
            }
        }
        world.environment.friction = clamp(world.environment.friction * jitter(ranges.friction, &generator), 0.05, 1.2)
        world.frictionEstimate = clamp(world.environment.friction + 0.03 * generator.gaussian(), 0.05, 1.2)
        world.environment.visibility = max(world.environment.visibility * jitter(ranges.visibility, &generator), 5)
        world.environment.sensorNoise += generator.uniform(0, ranges.sensorNoise)
        world.environment.dropout = clamp(world.environment.dropout + generator.uniform(0, ranges.dropout), 0, 0.95)
        world.sensorGenerator = SeededGenerator(seed: SeededGenerator.mix(seed(of: index), 0x5E45))
        world.latencyFrames = []
        world.latencyFrameCount = 0
        world.tracks = []
        world.reindex()
        return world
    }
}

extension World {
    /// Recomputes lanes and the neighbour index after positions were edited directly.
    mutating func reindex() {
        for i in actors.indices { actors[i].lane = road.lane(at: actors[i].d) }
        occupancy = LaneOccupancy(actors: actors, laneCount: road.laneCount)
    }
}
