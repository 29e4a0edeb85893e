extension World {
    /// Advances the world by one `timeStep`.
    public mutating func step() {
        if !scripts.isEmpty { fireScripts() }
        let dt = timeStep
        let grip = environment.gripLimit
        let road = self.road
        let controller = self.controller
        // The index is read through a local copy inside this block only, so that it is released
        // before `rebuild` mutates `self.occupancy` (which then stays unique: no copy-on-write).
        do {
            let occupancy = self.occupancy
            actors.withUnsafeMutableBufferPointer { actors in
                let n = actors.count
                // 1. Traffic decisions on the current, consistent state.
                for i in 1..<n {
                    let kind = actors[i].kind
                    guard kind == .car || kind == .truck else { continue }
                    if actors[i].crashed {
                        actors[i].acceleration = actors[i].speed > 0 ? -min(grip, TrafficModel.maxBraking) : 0
                        continue
                    }
                    if actors[i].changesLanes && actors[i].lane >= 0 && actors[i].targetLane == actors[i].lane {
                        actors[i].laneChangeTimer -= dt
                        if actors[i].laneChangeTimer <= 0 {
                            actors[i].laneChangeTimer += TrafficModel.laneChangeInterval
                            if let lane = TrafficModel.chooseLane(for: i, actors: UnsafeBufferPointer(actors),
                                                                  occupancy: occupancy, road: road) {
                                actors[i].targetLane = lane
                            }
                        }
                    }
                    var a: Double
                    if let scripted = actors[i].scriptedAcceleration {
                        if actors[i].speed <= actors[i].scriptedFloorSpeed {
                            actors[i].scriptedAcceleration = nil
                            actors[i].targetSpeed = actors[i].scriptedFloorSpeed
                            a = 0
                        } else {
                            a = scripted
                        }
                    } else {
                        a = TrafficModel.acceleration(of: i, actors: UnsafeBufferPointer(actors),
                                                      occupancy: occupancy, road: road)
                    }
                    actors[i].acceleration = clamp(a, -min(grip, TrafficModel.maxBraking), min(grip, actors[i].behaviour.maxAcceleration * 2))
                }
                // 2. Motion.
                World.moveEgo(&actors[0], controller: controller, road: road, grip: grip, dt: dt)
                for i in 1..<n {
                    switch actors[i].kind {
                    case .car, .truck:
                        if actors[i].crashed {
                            actors[i].speed = max(actors[i].speed + actors[i].acceleration * dt, 0)
                            actors[i].s += actors[i].speed * dt
                        } else {
                            TrafficModel.move(&actors[i], road: road, dt: dt)
                        }
                    case .pedestrian:
                        if actors[i].lateralSpeed != 0 && !actors[i].crashed {
                            actors[i].d += actors[i].lateralSpeed * dt
                            if actors[i].d < -3 || actors[i].d > road.width + 3 { actors[i].lateralSpeed = 0 }
                            actors[i].lane = road.lane(at: actors[i].d)
                        }
                    case .ego, .stalled, .cone:
                        break
                    }
                }
            }
        }
        time += dt
        stepCount += 1
        if self.controller.braking { self.controller.targetSpeed = actors[0].speed }
        self.occupancy.rebuild(actors: actors)
        detectCollisions()
        let ego = actors[0]
        if !egoOffRoad {
            let halfWidth = ego.width / 2
            let lane = road.lane(at: ego.d)
            if ego.d - halfWidth < -World.shoulder || ego.d + halfWidth > road.width + World.shoulder
                || lane < 0 || !road.isOpen(lane: lane, at: ego.s) {
                egoOffRoad = true
            }
        }
    }

    /// How far a wheel may stray past the outer lane markings before the ego counts as off the road, m.
    static let shoulder = 0.5

    @inline(__always)
    static func moveEgo(_ ego: inout Actor, controller: EgoController, road: Road, grip: Double, dt: Double) {
        let curvature = road.curvature(at: ego.s)
        let acceleration = controller.accelerationCommand(speed: ego.speed)
        let steering = controller.steeringCommand(ego: ego, laneCentre: road.laneCentre(controller.targetLane),
                                                  curvature: curvature, wheelbase: ego.length)
        BicycleModel.advance(&ego, acceleration: acceleration, steering: steering, curvature: curvature,
                             grip: min(grip, World.egoMaxGrip), dt: dt)
        ego.lane = road.lane(at: ego.d)
    }

    /// Even on perfect asphalt the ego cannot brake harder than this, m/s².
    static let egoMaxGrip = 9.0
}

extension World {
    /// Starts every scripted action whose condition holds now.
    mutating func fireScripts() {
        for k in scripts.indices where !scripts[k].started {
            let index = scripts[k].actor
            guard index > 0 && index < actors.count else { continue }
            let agent = actors[index]
            let ego = actors[0]
            let fires: Bool
            switch scripts[k].condition {
            case .time(let t):
                fires = time + 1e-9 >= t
            case .distance(let metres):
                fires = agent.s - ego.s <= metres
            case .timeToCollision(let seconds):
                fires = World.timeToCollision(follower: ego, leader: agent) <= seconds
            }
            guard fires else { continue }
            scripts[k].started = true
            scripts[k].startTime = time
            switch scripts[k].kind {
            case .laneChange(let lane, let lateralSpeed):
                actors[index].targetLane = min(max(lane, 0), road.laneCount - 1)
                actors[index].laneChangeRate = lateralSpeed
                actors[index].changesLanes = false
            case .brake(let deceleration, let toSpeed):
                actors[index].scriptedAcceleration = -deceleration
                actors[index].scriptedFloorSpeed = toSpeed
                actors[index].changesLanes = false
            case .stop(let deceleration):
                actors[index].scriptedAcceleration = -deceleration
                actors[index].scriptedFloorSpeed = 0
                actors[index].changesLanes = false
            case .openDoor(let width):
                openDoor(ofActor: index, width: width)
            case .cross(let speed, let direction):
                actors[index].lateralSpeed = speed * (direction >= 0 ? 1 : -1)
            case .setSpeed(let speed):
                actors[index].targetSpeed = speed
            }
        }
    }

    /// Time until `follower`'s front meets `leader`'s rear at current speeds (∞ if not closing or not ahead).
    @inline(__always)
    static func timeToCollision(follower: Actor, leader: Actor) -> Double {
        let gap = leader.s - follower.s - (leader.length + follower.length) / 2
        let closing = follower.longitudinalSpeed - leader.longitudinalSpeed
        guard leader.s > follower.s, closing > 0 else { return .infinity }
        return max(gap, 0) / closing
    }

    /// The ego's smallest time-to-collision with anything whose box overlaps its corridor
    /// (its width plus a small margin), looking `range` metres ahead. True state.
    public func egoTimeToCollision(range: Double = 120) -> Double {
        let ego = actors[0]
        var best = Double.infinity
        actors.withUnsafeBufferPointer { actors in
            for lane in (ego.lane - 1)...(ego.lane + 1) where lane >= -1 && lane < road.laneCount {
                let r = occupancy.range(of: lane)
                var position = occupancy.firstPosition(in: lane, after: ego.s, actors: actors)
                while position < r.upperBound {
                    let other = actors[Int(occupancy.order[position])]
                    if other.s - ego.s > range { break }
                    if abs(other.d - ego.d) < (other.width + ego.width) / 2 + 0.2 {
                        best = min(best, World.timeToCollision(follower: ego, leader: other))
                    }
                    position += 1
                }
            }
        }
        return best
    }

    /// Bumper gap from the ego to the nearest actor in its corridor ahead (∞ if none within `range`).
    public func egoHeadway(range: Double = 150) -> Double {
        let ego = actors[0]
        var best = Double.infinity
        for lane in (ego.lane - 1)...(ego.lane + 1) where lane >= -1 && lane < road.laneCount {
            let r = occupancy.range(of: lane)
            var position = actors.withUnsafeBufferPointer { occupancy.firstPosition(in: lane, after: ego.s, actors: $0) }
            while position < r.upperBound {
                let other = actors[Int(occupancy.order[position])]
                if other.s - ego.s > range { break }
                if abs(other.d - ego.d) < (other.width + ego.width) / 2 + 0.2 {
                    best = min(best, other.s - ego.s - (other.length + ego.length) / 2)
                    break
                }
                position += 1
            }
        }
        return best
    }
}
