/// What a driver sees: a fixed-size vector of `Float`, normalized like highway-env's Kinematics observation.
///
/// A neural policy consumes this vector directly, so its layout is a contract:
/// `Observation.size` floats, in four blocks (layout version
/// ``Observation/layoutVersion``). Distances and speeds are divided
/// by the ranges below and clipped to [-1, 1] (highway-env's `lmap` + clip);
/// flags are 0 or 1. All vehicle quantities are relative to the ego, in road
/// coordinates (x along the road, y to the left). This is the one place the
/// layout is defined; `Simulator/README.md` repeats it for readers.
///
/// | index | block | feature | scale |
/// | --- | --- | --- | --- |
/// | 0 | ego | speed | / 40 m/s |
/// | 1 | ego | lateral speed ḋ | / 5 m/s |
/// | 2 | ego | heading relative to the road | / 0.5 rad |
/// | 3 | ego | offset from the current lane centre | / (lane width / 2) |
/// | 4 | ego | longitudinal acceleration | / 10 m/s² |
/// | 5 | ego | controller target speed | / 40 m/s |
/// | 6 | ego | speed limit here | / 40 m/s |
/// | 7 | ego | target lane − current lane | −1, 0, 1 |
/// | 8 | lane | a lane to the left is open here | 0/1 |
/// | 9 | lane | a lane to the right is open here | 0/1 |
/// | 10 | lane | distance to the end of the current lane | / 200 m (1 = none) |
/// | 11 | lane | curvature here | × 200 m |
/// | 12 | lane | sharpest curvature in the next 150 m | × 200 m |
/// | 13 | lane | current lane index | / (lanes − 1) |
/// | 14 | lane | time-to-collision, anticipating: anything ahead in the ego's lane (or the lane it is changing into), a lead keeping its observed braking until it stops, or anything moving across into it while the ego passes it, front to rear (within 4 s) | / 10 s (1 = none) |
/// | 15 | lane | curve-speed advisory: the highest speed from which every bend in the next 400 m can be taken within 0.8·μ̂·g, braking at 0.7·μ̂·g | / 40 m/s |
/// | 16 | environment | friction estimate μ̂ | as is |
/// | 17 | environment | visibility | / 200 m |
/// | 18 | environment | sensor noise σ | / 2 m |
/// | 19 | environment | dropout probability | as is |
/// | 20 | environment | latency | / 0.5 s |
/// | 21 + 11k … 31 + 11k | vehicle k (k = 0 … 7, nearest first) | presence, x / 100 m, y / 15 m, vx / 40 m/s, vy / 5 m/s, heading / 0.5 rad, kind, length / 20 m, width / 5 m, its own longitudinal acceleration / 10 m/s², track age / 2 s | |
///
/// `kind` is 0 for a vehicle, 0.5 for a stationary object (stalled car, cone)
/// and 1 for a pedestrian. Rows of absent vehicles are all zero. Vehicles are
/// the K = 8 nearest (Euclidean, in road coordinates) within the sensor range
/// and the visibility. Each detection may be dropped (dropout); position, speed
/// and acceleration carry Gaussian noise. Length and width are the object's
/// extent as seen now, so a door opening into the lane widens its row.
///
/// The rows come from a tracker, as a real perception stack hands a planner
/// a tracked-object list rather than raw detections: an object whose
/// detection drops out stays in its row for up to ``maximumTrackAge`` seconds,
/// predicted from its last detection at constant acceleration (never
/// reversing), with its age in the last column (0 = detected in this frame).
/// The tracker's first frame detects every object in range: perception has
/// been running before an episode, or a replayed capture, begins.
/// With latency the driver receives the frame produced that many decision
/// periods ago.
///
/// Version 1 (76 floats) had seven features per row (no extent, acceleration
/// or memory), no curve-speed advisory, and counted only what was already in
/// the lane in the time-to-collision. A policy records its input width, so a version-1 policy is
/// refused by name rather than fed the wrong layout.
public struct Observation: Sendable, Equatable {
    /// The feature vector, `Observation.size` long.
    public var values: [Float]

    /// An all-zero observation.
    public init() {
        values = [Float](repeating: 0, count: Observation.size)
    }

    public init(values: [Float]) {
        precondition(values.count == Observation.size, "an observation has \(Observation.size) values")
        self.values = values
    }

    /// The layout's version; a new layout is a new input width, so a new policy architecture.
    public static let layoutVersion = 2

    /// Number of floats: 8 ego + 8 lane + 5 environment + 8 × 11 vehicle features = 109.
    public static let size = egoFeatures + laneFeatures + environmentFeatures + vehicleSlots * vehicleFeatures
    public static let egoFeatures = 8
    public static let laneFeatures = 8
    public static let environmentFeatures = 5
    /// K, the number of vehicle rows.
    public static let vehicleSlots = 8
    public static let vehicleFeatures = 11
    /// Seconds ahead an object's lateral motion is extrapolated to see whether it enters the ego's lane (feature 14).
    public static let corridorHorizon = 4.0
    /// Seconds a tracked object whose detection dropped out stays in the observation.
    public static let maximumTrackAge = 2.0
    public static let laneOffset = egoFeatures
    public static let environmentOffset = laneOffset + laneFeatures
    public static let vehiclesOffset = environmentOffset + environmentFeatures

    // Normalization ranges.
    static let speedScale = 40.0
    static let lateralSpeedScale = 5.0
    static let headingScale = 0.5
    static let accelerationScale = 10.0
    static let distanceScale = 200.0
    static let curvatureScale = 200.0
    static let timeScale = 10.0
    static let xScale = 100.0
    static let yScale = 15.0
    static let noiseScale = 2.0
    static let latencyScale = 0.5
    static let lengthScale = 20.0
    static let widthScale = 5.0
}

/// One decoded vehicle row, in physical units relative to the ego.
public struct ObservedVehicle: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var vx: Double
    public var vy: Double
    public var heading: Double
    public var kind: Double
    /// Extent along and across the road, m.
    public var length: Double
    public var width: Double
    /// Its own longitudinal acceleration, m/s².
    public var acceleration: Double
    /// Seconds since it was last detected (0 = in this frame).
    public var age: Double

    /// Bumper-to-bumper distance along the road to an ego of `egoLength`, m (0 when they overlap).
    public func bumperGap(egoLength: Double = Actor.carLength) -> Double {
        max(abs(x) - (length + egoLength) / 2, 0)
    }
}

extension Observation {
    /// Ego speed, m/s.
    public var egoSpeed: Double { Double(values[0]) * Observation.speedScale }
    /// Longitudinal acceleration, m/s².
    public var egoAcceleration: Double { Double(values[4]) * Observation.accelerationScale }
    /// Controller target speed, m/s.
    public var targetSpeed: Double { Double(values[5]) * Observation.speedScale }
    /// Speed limit, m/s.
    public var speedLimit: Double { Double(values[6]) * Observation.speedScale }
    /// Whether a lane change is under way.
    public var changingLanes: Bool { values[7] != 0 }
    public var leftLaneOpen: Bool { values[Observation.laneOffset] > 0.5 }
    public var rightLaneOpen: Bool { values[Observation.laneOffset + 1] > 0.5 }
    /// Distance to the end of the current lane, m (∞ if none in range).
    public var distanceToLaneEnd: Double {
        let v = Double(values[Observation.laneOffset + 2])
        return v >= 1 ? .infinity : v * Observation.distanceScale
    }
    /// Feature 14, s (∞ if none or beyond 10 s): the anticipating
    /// ``corridorTimeToCollision(egoLength:laneWidth:anticipating:)`` of the frame.
    public var leadTimeToCollision: Double {
        let v = Double(values[Observation.laneOffset + 6])
        return v >= 1 ? .infinity : v * Observation.timeScale
    }
    /// Curve-speed advisory for the road ahead, m/s.
    public var advisorySpeed: Double { Double(values[Observation.laneOffset + 7]) * Observation.speedScale }
    /// Friction estimate μ̂.
    public var frictionEstimate: Double { Double(values[Observation.environmentOffset]) }

    /// The k-th vehicle row, or nil if the slot is empty.
    public func vehicle(_ k: Int) -> ObservedVehicle? {
        Observation.vehicle(k, in: values)
    }

    static func vehicle(_ k: Int, in values: [Float]) -> ObservedVehicle? {
        let base = Observation.vehiclesOffset + k * Observation.vehicleFeatures
        guard values[base] > 0.5 else { return nil }
        return ObservedVehicle(
            x: Double(values[base + 1]) * Observation.xScale,
            y: Double(values[base + 2]) * Observation.yScale,
            vx: Double(values[base + 3]) * Observation.speedScale,
            vy: Double(values[base + 4]) * Observation.lateralSpeedScale,
            heading: Double(values[base + 5]) * Observation.headingScale,
            kind: Double(values[base + 6]),
            length: Double(values[base + 7]) * Observation.lengthScale,
            width: Double(values[base + 8]) * Observation.widthScale,
            acceleration: Double(values[base + 9]) * Observation.accelerationScale,
            age: Double(values[base + 10]) * Observation.maximumTrackAge)
    }

    /// Seconds until the ego, carrying on at its speed, reaches an observed object ahead
    /// that is in its lane (within half a lane of its line) or moving into it (∞ if none).
    ///
    /// Without `anticipating`, every object keeps its speed and one moving across counts
    /// if it is within half a lane of the ego's line when the ego's front reaches it:
    /// what braking can avoid, and what the guardrail's rules use. With `anticipating`
    /// (feature 14), as a planner looking ahead would:
    /// - an object in the lane keeps its observed deceleration until it stops (a lead
    ///   braking hard at the ego's own speed is seconds away, not "never");
    /// - one moving across also counts if it arrives before the ego's rear has gone by
    ///   (a walker stepping into the ego's side collides as surely as one in front);
    /// - during a lane change the line is the target lane's centre, which the ego is
    ///   moving to, and objects move at their own lateral speed, not relative to the
    ///   ego's sideways motion (which stops there).
    /// Only what arrives within ``corridorHorizon`` counts for objects moving across.
    public func corridorTimeToCollision(egoLength: Double, laneWidth: Double, anticipating: Bool) -> Double {
        Observation.corridorTimeToCollision(values, egoLength: egoLength, laneWidth: laneWidth, anticipating: anticipating)
    }

    /// ``corridorTimeToCollision(egoLength:laneWidth:anticipating:)`` of a frame being written.
    static func corridorTimeToCollision(_ values: [Float], egoLength: Double, laneWidth: Double, anticipating: Bool) -> Double {
        var ttc = Double.infinity
        let halfLane = laneWidth / 2
        let egoSpeed = Double(values[0]) * Observation.speedScale
        // Where the ego is heading across the road, relative to where it is, and its sideways speed.
        let line = anticipating ? Double(values[7]) * laneWidth - Double(values[3]) * halfLane : 0
        let sideways = anticipating ? Double(values[1]) * Observation.lateralSpeedScale : 0
        for k in 0..<Observation.vehicleSlots {
            guard let other = vehicle(k, in: values), other.x > 0 else { continue }
            let reach = (other.length + egoLength) / 2
            let gap = max(other.x - reach, 0)
            let y = other.y - line
            if abs(other.y) < halfLane || abs(y) < halfLane {
                let deceleration = anticipating ? max(0, -other.acceleration) : 0
                ttc = min(ttc, Observation.closingTime(gap: gap, closing: -other.vx, speed: egoSpeed + other.vx, deceleration: deceleration, egoSpeed: egoSpeed))
                continue
            }
            // Moving towards the line: within half a lane of it from `enters` to `leaves`.
            let vy = other.vy + sideways
            guard other.vx < 0, vy * y < 0 else { continue }
            let front = gap / -other.vx
            let enters = (abs(y) - halfLane) / abs(vy)
            let leaves = (abs(y) + halfLane) / abs(vy)
            let last = anticipating ? (other.x + reach) / -other.vx : front
            let arrival = max(front, enters)
            if enters <= last && leaves >= front && arrival <= Observation.corridorHorizon { ttc = min(ttc, arrival) }
        }
        return ttc
    }

    /// Seconds until a `gap` closing at `closing` m/s is gone, the object ahead (at `speed`)
    /// slowing at `deceleration` until it stops while the ego keeps `egoSpeed`.
    static func closingTime(gap: Double, closing: Double, speed: Double, deceleration: Double, egoSpeed: Double) -> Double {
        guard deceleration > 0, speed > 0 else { return closing > 0 ? gap / closing : .infinity }
        // gap − closing·t − ½·b·t² = 0 while the object still moves…
        let stops = speed / deceleration
        let t = (-closing + (closing * closing + 2 * deceleration * gap).squareRoot()) / deceleration
        if t <= stops { return t }
        // …and after it has stopped, the ego closes the rest at its own speed.
        let left = gap - closing * stops - deceleration * stops * stops / 2
        return egoSpeed > 0 ? stops + left / egoSpeed : .infinity
    }
}
