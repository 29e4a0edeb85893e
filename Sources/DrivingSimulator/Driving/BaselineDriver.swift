/// The plain IDM/MOBIL driver, working from the observation only.
///
/// It is what a rule-based stack without foresight does: follow the observed
/// lead vehicle in its lane with IDM (highway-env defaults, desired speed =
/// the limit) and change lanes when MOBIL says so. It sees only what the
/// sensors give (fog, noise, dropout, latency all hurt it), ignores vehicles
/// until their centre is inside its lane, and never anticipates — the
/// yardstick the teacher and the learned policy must clearly beat on edge cases.
public struct BaselineDriver: Driver, Sendable {
    public var name: String { "idm-mobil" }
    /// IDM/MOBIL parameters.
    public var behaviour: DriverBehaviour

    public init(behaviour: DriverBehaviour = .highwayDefault) {
        self.behaviour = behaviour
    }

    public func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        let laneWidth = context.world.road.laneWidth
        let speed = observation.egoSpeed
        let desired = observation.speedLimit
        let current = accelerationInLane(offset: 0, observation, laneWidth: laneWidth, speed: speed, desired: desired)
        // MOBIL, only when not already changing lanes.
        if !observation.changingLanes {
            var bestGain = behaviour.laneChangeGain
            var choice: MetaAction?
            for (offset, action, open) in [(1, MetaAction.laneLeft, observation.leftLaneOpen),
                                            (-1, MetaAction.laneRight, observation.rightLaneOpen)] where open {
                guard isSafe(offset: offset, observation, laneWidth: laneWidth, speed: speed) else { continue }
                let gain = accelerationInLane(offset: offset, observation, laneWidth: laneWidth, speed: speed,
                                              desired: desired) - current
                if gain > bestGain {
                    bestGain = gain
                    choice = action
                }
            }
            if let choice { return choice }
        }
        if current < -3 { return .brake }
        if current < -0.5 { return .slower }
        if current > 0.5 && observation.targetSpeed < desired - 0.5 { return .faster }
        return .idle
    }

    /// IDM acceleration against the nearest observed vehicle ahead in the lane `offset` lanes over.
    func accelerationInLane(offset: Int, _ observation: Observation, laneWidth: Double, speed: Double,
                            desired: Double) -> Double {
        var gap = Double.infinity
        var closing = 0.0
        let centre = Double(offset) * laneWidth
        for k in 0..<Observation.vehicleSlots {
            guard let other = observation.vehicle(k) else { continue }
            if other.x > 0 && abs(other.y - centre) < laneWidth / 2 && other.x < gap {
                gap = other.x
                closing = -other.vx
            }
        }
        if offset == 0 {
            let end = observation.distanceToLaneEnd
            if end.isFinite && end + 2.5 < gap {
                gap = end + 2.5
                closing = speed
            }
        }
        return IntelligentDriverModel.acceleration(speed: speed, desiredSpeed: max(desired, 1), gap: gap,
                                                   closingSpeed: closing, behaviour: behaviour)
    }

    /// MOBIL's safety criterion for the observed follower in the target lane.
    func isSafe(offset: Int, _ observation: Observation, laneWidth: Double, speed: Double) -> Bool {
        let centre = Double(offset) * laneWidth
        for k in 0..<Observation.vehicleSlots {
            guard let other = observation.vehicle(k), abs(other.y - centre) < laneWidth / 2 else { continue }
            if abs(other.x) < Actor.carLength + 1 { return false }
            if other.x < 0 {
                let followerSpeed = speed + other.vx
                let a = IntelligentDriverModel.acceleration(speed: followerSpeed, desiredSpeed: followerSpeed,
                                                            gap: -other.x, closingSpeed: other.vx,
                                                            behaviour: .highwayDefault)
                if a < -behaviour.safeBraking { return false }
            }
        }
        return true
    }
}
