/// A scripted manoeuvre of one agent, started when its condition first holds.
///
/// Like an OpenSCENARIO storyboard event: a *start trigger* (simulation time,
/// distance to the ego, or the ego's time-to-collision with the agent) and an
/// *action* (cut in, cut out, brake hard, stop, open a door, cross the road,
/// change speed). Once started an action runs to its end on its own.
public struct ScriptedAction: Sendable, Codable, Equatable {
    /// Index of the actor in `World.actors`.
    public var actor: Int
    public var condition: StartCondition
    public var kind: Kind
    /// Whether the condition has fired.
    public var started: Bool
    /// Simulation time when it fired (nil before).
    public var startTime: Double?

    public init(actor: Int, condition: StartCondition, kind: Kind) {
        self.actor = actor
        self.condition = condition
        self.kind = kind
        self.started = false
        self.startTime = nil
    }

    /// When a scripted action starts.
    public enum StartCondition: Sendable, Codable, Equatable {
        /// Simulation time reaches `seconds`.
        case time(Double)
        /// The agent is ahead of the ego by at most `metres` (centre to centre along the road).
        case distance(Double)
        /// The ego's time-to-collision with the agent drops to `seconds` or less.
        case timeToCollision(Double)
    }

    /// What the agent does.
    public enum Kind: Sendable, Codable, Equatable {
        /// Steer into `lane` at `lateralSpeed` m/s, regardless of who is there.
        case laneChange(lane: Int, lateralSpeed: Double)
        /// Brake at `deceleration` m/s² (limited by friction) down to `toSpeed`.
        case brake(deceleration: Double, toSpeed: Double)
        /// Brake at `deceleration` to a standstill and stay there (a breakdown).
        case stop(deceleration: Double)
        /// Open the door on the traffic side: the box widens by `width` metres towards the lane.
        case openDoor(width: Double)
        /// Walk across the road at `speed` m/s (pedestrians), `direction` +1 to the left, -1 to the right.
        case cross(speed: Double, direction: Double)
        /// Change the desired speed to `speed` m/s.
        case setSpeed(speed: Double)
    }
}
