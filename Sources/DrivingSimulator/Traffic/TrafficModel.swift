/// How traffic vehicles choose acceleration, lane and lateral motion.
///
/// IDM against the leader in the current lane — and, during a lane change, in
/// the target lane too (the stricter wins, as in highway-env) — and against
/// the end of the lane when it closes ahead (a virtual stopped vehicle at the
/// closure), which is what drives merging. MOBIL is consulted once per
/// `laneChangeInterval` per vehicle. Lateral motion is kinematic: the lateral
/// speed tracks the target lane centre, capped at the vehicle's lane-change
/// rate, and the box turns with the velocity vector.
enum TrafficModel {
    /// Seconds between MOBIL decisions of one vehicle (highway-env: LANE_CHANGE_DELAY = 1 s).
    static let laneChangeInterval = 1.0
    /// No traffic vehicle brakes harder than this, m/s².
    static let maxBraking = 9.0
    /// Lateral position gain while changing lanes, 1/s.
    static let lateralGain = 2.0

    /// IDM acceleration of actor `i` in `lane` (its own lane uses the neighbour index directly).
    @inline(__always)
    static func acceleration(of i: Int, in lane: Int, actors: UnsafeBufferPointer<Actor>,
                             occupancy: LaneOccupancy, road: Road) -> Double {
        let me = actors[i]
        var gap = Double.infinity
        var closing = 0.0
        if lane >= 0 && !me.inattentive {
            let r = occupancy.range(of: lane)
            let position = lane == me.lane ? Int(occupancy.rank[i]) + 1
                : occupancy.firstPosition(in: lane, after: me.s, actors: actors)
            if position < r.upperBound {
                let leader = actors[Int(occupancy.order[position])]
                gap = leader.s - me.s
                closing = me.speed - leader.longitudinalSpeed
            }
            let end = road.distanceToLaneEnd(lane: lane, from: me.s)
            if end.isFinite && end + me.length / 2 < gap {
                gap = end + me.length / 2
                closing = me.speed
            }
        }
        return IntelligentDriverModel.acceleration(speed: me.speed, desiredSpeed: me.targetSpeed, gap: gap,
                                                   closingSpeed: closing, behaviour: me.behaviour)
    }

    /// IDM acceleration of actor `i`, stricter of current and target lane.
    @inline(__always)
    static func acceleration(of i: Int, actors: UnsafeBufferPointer<Actor>, occupancy: LaneOccupancy,
                             road: Road) -> Double {
        let me = actors[i]
        var a = acceleration(of: i, in: me.lane, actors: actors, occupancy: occupancy, road: road)
        if me.targetLane != me.lane {
            a = min(a, acceleration(of: i, in: me.targetLane, actors: actors, occupancy: occupancy, road: road))
        }
        return a
    }

    /// IDM acceleration of `follower` if `leader` were directly ahead of it.
    @inline(__always)
    static func acceleration(follower: Actor, leader: Actor) -> Double {
        let behaviour = follower.kind == .ego ? DriverBehaviour.highwayDefault : follower.behaviour
        let desired = follower.kind == .ego ? max(follower.speed, 1) : follower.targetSpeed
        return IntelligentDriverModel.acceleration(speed: follower.speed, desiredSpeed: desired,
                                                   gap: leader.s - follower.s,
                                                   closingSpeed: follower.speed - leader.longitudinalSpeed,
                                                   behaviour: behaviour)
    }

    /// MOBIL: the adjacent lane worth changing to, if any.
    static func chooseLane(for i: Int, actors: UnsafeBufferPointer<Actor>, occupancy: LaneOccupancy,
                           road: Road) -> Int? {
        let me = actors[i]
        let current = acceleration(of: i, in: me.lane, actors: actors, occupancy: occupancy, road: road)
        var best = 0.0
        var choice: Int?
        for lane in stride(from: me.lane - 1, through: me.lane + 1, by: 2) {
            guard road.isOpen(lane: lane, at: me.s),
                  road.distanceToLaneEnd(lane: lane, from: me.s) > 4 * me.length + me.speed * 2 else { continue }
            let r = occupancy.range(of: lane)
            let position = occupancy.firstPosition(in: lane, after: me.s, actors: actors)
            if position < r.upperBound {
                let leader = actors[Int(occupancy.order[position])]
                if leader.s - me.s < (leader.length + me.length) / 2 + 1 { continue }
            }
            var followerGain = 0.0
            if position - 1 >= r.lowerBound {
                let follower = actors[Int(occupancy.order[position - 1])]
                if me.s - follower.s < (follower.length + me.length) / 2 + 1 { continue }
                if follower.kind == .car || follower.kind == .truck || follower.kind == .ego {
                    let after = acceleration(follower: follower, leader: me)
                    guard LaneChangeModel.isSafe(newFollowerAcceleration: after, behaviour: me.behaviour) else { continue }
                    if me.behaviour.politeness > 0 {
                        var before = IntelligentDriverModel.acceleration(
                            speed: follower.speed, desiredSpeed: follower.kind == .ego ? follower.speed : follower.targetSpeed,
                            gap: .infinity, closingSpeed: 0, behaviour: follower.behaviour)
                        if position < r.upperBound {
                            before = acceleration(follower: follower, leader: actors[Int(occupancy.order[position])])
                        }
                        followerGain = after - before
                    }
                }
            }
            let candidate = acceleration(of: i, in: lane, actors: actors, occupancy: occupancy, road: road)
            let incentive = LaneChangeModel.incentive(changerGain: candidate - current, newFollowerGain: followerGain,
                                                      oldFollowerGain: 0, behaviour: me.behaviour)
            if incentive > best {
                best = incentive
                choice = lane
            }
        }
        return choice
    }

    /// Integrates a traffic vehicle over `dt` with its chosen acceleration.
    @inline(__always)
    static func move(_ me: inout Actor, road: Road, dt: Double) {
        me.speed = max(me.speed + me.acceleration * dt, 0)
        let error = road.laneCentre(me.targetLane) - me.d
        let lateral = abs(error) < 0.01 ? 0 : clamp(lateralGain * error, -me.laneChangeRate, me.laneChangeRate)
        me.lateralSpeed = lateral
        me.heading = lateral == 0 ? 0 : _atan2(lateral, max(me.speed, 1))
        let curvature = road.segments.count > 1 || road.segments.first?.curvature != 0 ? road.curvature(at: me.s) : 0
        me.s += me.speed * dt / max(1 - curvature * me.d, 0.1)
        me.d += lateral * dt
        me.lane = road.lane(at: me.d)
    }
}
