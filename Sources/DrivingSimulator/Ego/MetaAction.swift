/// The discrete decisions a driver makes; low-level controllers carry them out.
///
/// The first five are highway-env's `DiscreteMetaAction` set; `brake` adds the
/// emergency stop that edge cases need. Raw values are stable: a policy network
/// indexes its output logits by them.
public enum MetaAction: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Change to the lane on the left (higher index).
    case laneLeft = 0
    /// Keep lane and target speed.
    case idle = 1
    /// Change to the lane on the right (lower index).
    case laneRight = 2
    /// Raise the target speed by `EgoController.speedStep`.
    case faster = 3
    /// Lower the target speed by `EgoController.speedStep`.
    case slower = 4
    /// Brake as hard as the road allows for this decision period.
    case brake = 5

    /// Number of actions (size of a policy's output).
    public static let count = 6

    public var description: String {
        switch self {
        case .laneLeft: "LANE_LEFT"
        case .idle: "IDLE"
        case .laneRight: "LANE_RIGHT"
        case .faster: "FASTER"
        case .slower: "SLOWER"
        case .brake: "BRAKE"
        }
    }

    /// Parses `LANE_LEFT`, `lane_left`, `laneLeft` and friends.
    public init?(name: String) {
        let key = name.lowercased().filter { $0 != "_" }
        guard let match = MetaAction.allCases.first(where: {
            $0.description.lowercased().filter { $0 != "_" } == key
        }) else { return nil }
        self = match
    }
}
