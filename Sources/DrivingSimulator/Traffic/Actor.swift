/// What an actor in the world is.
public enum ActorKind: UInt8, Sendable, Codable, CaseIterable {
    /// The vehicle the driver controls (always index 0).
    case ego
    /// A passenger car driven by IDM/MOBIL (possibly with a script).
    case car
    /// A longer, slower vehicle driven by IDM/MOBIL.
    case truck
    /// A vehicle standing still in a lane (breakdown, queue end).
    case stalled
    /// A traffic cone marking a closure.
    case cone
    /// A person on foot; moves laterally when crossing.
    case pedestrian

    /// Whether the actor never moves on its own.
    var isStatic: Bool { self == .stalled || self == .cone }
}

/// One actor's complete state, stored flat in `World.actors`.
///
/// A plain struct of scalars so the whole population sits in one contiguous
/// array, a step allocates nothing, and a snapshot is a straight copy. The
/// fields cover every kind; kinds ignore what they do not use.
public struct Actor: Sendable, Codable, Equatable {
    public var kind: ActorKind
    /// Longitudinal position of the centre along the road, m.
    public var s: Double
    /// Lateral position of the centre, m (0 = right road edge).
    public var d: Double
    /// Heading relative to the road direction, rad (positive to the left).
    public var heading: Double
    /// Speed along the heading, m/s (pedestrians: 0, they move via `lateralSpeed`).
    public var speed: Double
    /// Longitudinal acceleration applied in the last step, m/s².
    public var acceleration: Double
    /// Lateral speed `ḋ`, m/s.
    public var lateralSpeed: Double
    public var length: Double
    public var width: Double
    /// The lane the centre is in (-1 off the road), refreshed each step.
    public var lane: Int
    /// The lane the actor is steering to.
    public var targetLane: Int
    /// Desired speed v0 for IDM, m/s.
    public var targetSpeed: Double
    /// Car-following and lane-change behaviour.
    public var behaviour: DriverBehaviour
    /// Whether MOBIL may change lanes on its own (scripted actors often may not).
    public var changesLanes: Bool
    /// Seconds until MOBIL is next consulted (staggered so not all decide at once).
    public var laneChangeTimer: Double
    /// Lateral speed used while changing lanes, m/s.
    public var laneChangeRate: Double
    /// A scripted longitudinal override: acceleration to hold (nil = IDM decides).
    public var scriptedAcceleration: Double?
    /// The speed at which a scripted brake stops (then IDM resumes at this target).
    public var scriptedFloorSpeed: Double
    /// Whether the actor has crashed (it then skids to a halt in its lane).
    public var crashed: Bool
    /// An inattentive driver ignores the traffic ahead (IDM as on a free road) until a script takes over.
    public var inattentive: Bool

    public init(kind: ActorKind, s: Double, d: Double, speed: Double, length: Double, width: Double,
                lane: Int, targetSpeed: Double, behaviour: DriverBehaviour = .highwayDefault) {
        self.kind = kind
        self.s = s
        self.d = d
        self.heading = 0
        self.speed = speed
        self.acceleration = 0
        self.lateralSpeed = 0
        self.length = length
        self.width = width
        self.lane = lane
        self.targetLane = lane
        self.targetSpeed = targetSpeed
        self.behaviour = behaviour
        self.changesLanes = kind == .car || kind == .truck
        self.laneChangeTimer = 0
        self.laneChangeRate = 1.0
        self.scriptedAcceleration = nil
        self.scriptedFloorSpeed = 0
        self.crashed = false
        self.inattentive = false
    }

    /// Velocity along the road (`ṡ`, ignoring curvature scaling), m/s.
    @inline(__always) var longitudinalSpeed: Double { speed * _cos(heading) }

    /// Standard sizes.
    public static let carLength = 5.0
    public static let carWidth = 2.0
    public static let truckLength = 12.0
    public static let truckWidth = 2.5
    public static let coneSize = 0.5
    public static let pedestrianSize = 0.6
}
