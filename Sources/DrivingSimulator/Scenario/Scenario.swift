/// One edge-case family as written in `Simulator/scenarios/*.json` (schema `fleet-scenario/1`).
///
/// A scenario describes a road, the ego's start, background traffic, named
/// agents with behaviours and storyboard actions, the environment, a seed and
/// the parameters its numbers may refer to. `Simulator/README.md` documents
/// every field; `ScenarioParser` reads and validates it; `ScenarioBuilder`
/// turns it, a seed and parameter values into a `World`.
public struct Scenario: Sendable, Equatable, Encodable {
    /// The schema string this build reads.
    public static let schema = "fleet-scenario/1"

    /// The file it was loaded from (for messages).
    public var file: String
    public var family: String
    public var name: String
    public var description: String
    public var seed: UInt64
    /// Episode length, seconds.
    public var duration: Double
    /// Seconds between two driver decisions.
    public var decisionPeriod: Double
    /// The default difficulty knob δ ∈ [0, 1].
    public var difficulty: Double
    /// Declared parameters, sorted by name.
    public var parameters: [String: ScenarioParameter]
    public var road: RoadSpec
    public var ego: EgoSpec
    public var traffic: TrafficSpec?
    public var agents: [AgentSpec]
    public var environment: EnvironmentSpec

    /// Parameter names in a fixed order (sorted), so sampling never depends on dictionary order.
    public var parameterNames: [String] { parameters.keys.sorted() }

    public struct RoadSpec: Sendable, Equatable, Encodable {
        public var lanes: Int
        public var laneWidth: Double
        public var segments: [SegmentSpec]
        public var closures: [ClosureSpec]
    }

    public struct SegmentSpec: Sendable, Equatable, Encodable {
        public var length: ScenarioValue
        public var curvature: ScenarioValue
        public var speedLimit: ScenarioValue
    }

    public struct ClosureSpec: Sendable, Equatable, Encodable {
        public var lane: Int
        public var from: ScenarioValue
        public var to: ScenarioValue
        public var cones: Bool
    }

    public struct EgoSpec: Sendable, Equatable, Encodable {
        public var lane: Int
        public var s: ScenarioValue
        public var speed: ScenarioValue
    }

    public struct TrafficSpec: Sendable, Equatable, Encodable {
        /// How many background vehicles to place.
        public var vehicles: ScenarioValue
        /// Lanes they start in.
        public var lanes: [Int]
        /// Placement window relative to the ego's `s`, metres.
        public var from: ScenarioValue
        public var to: ScenarioValue
        /// Initial speed range, m/s.
        public var minSpeed: ScenarioValue
        public var maxSpeed: ScenarioValue
        /// Share of trucks, 0…1.
        public var truckShare: ScenarioValue
        /// Per-vehicle behaviour randomization (± fraction).
        public var behaviourSpread: ScenarioValue
    }

    public struct AgentSpec: Sendable, Equatable, Encodable {
        public var id: String
        public var kind: ActorKind
        /// Start lane; pedestrians may use -1 (right kerb) or `lanes` (left kerb).
        public var lane: Int
        /// Start position relative to the ego, metres ahead (negative: behind).
        public var ahead: ScenarioValue
        /// Lateral offset from the lane centre, metres (left positive).
        public var offset: ScenarioValue
        public var speed: ScenarioValue
        /// IDM desired speed (defaults to `speed`).
        public var targetSpeed: ScenarioValue?
        /// Whether MOBIL may change its lane.
        public var changesLanes: Bool
        /// Whether the driver watches the traffic ahead (false: IDM as on a free road).
        public var attentive: Bool
        public var actions: [ActionSpec]
    }

    public struct ActionSpec: Sendable, Equatable, Encodable {
        public enum Trigger: String, Sendable, Equatable, Encodable { case time, distance, ttc }
        public enum Kind: String, Sendable, Equatable, Encodable, CaseIterable {
            case cutIn, cutOut, laneChange, brake, stop, openDoor, cross, setSpeed
        }
        public var kind: Kind
        public var trigger: Trigger
        public var triggerValue: ScenarioValue
        /// Target lane for lane changes.
        public var lane: Int?
        /// Lateral speed (lane changes) or walking speed (cross), m/s.
        public var rate: ScenarioValue?
        /// Deceleration for brake/stop, m/s².
        public var deceleration: ScenarioValue?
        /// Speed after braking, or the new desired speed.
        public var speed: ScenarioValue?
        /// Door width, metres.
        public var width: ScenarioValue?
        /// Crossing direction: +1 to the left, -1 to the right.
        public var direction: Double?
    }

    public struct EnvironmentSpec: Sendable, Equatable, Encodable {
        public var friction: ScenarioValue
        public var visibility: ScenarioValue
        public var sensorNoise: ScenarioValue
        public var dropout: ScenarioValue
        public var latency: ScenarioValue
    }
}
