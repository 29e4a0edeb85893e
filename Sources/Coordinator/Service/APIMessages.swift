public import FleetWire

/// The JSON bodies of the coordinator API (`Protocols/fleet-api.openapi.yaml`),
/// with the spec's snake_case keys. The service answers with these values
/// in-process; the HTTP layer only encodes them. The messages a node also
/// reads are FleetWire's control messages, named here as the API calls them.
public enum API {
    /// `POST /v1/heartbeat`: the node's state while it drives, adapts or uploads.
    public typealias Heartbeat = NodeHeartbeat
    /// The answer to a heartbeat.
    public typealias HeartbeatReply = FleetWire.HeartbeatReply
    /// `GET /v1/task` (200): adapt on `baseVersion` and send an update for `round`.
    public typealias Task = TaskAssignment
    /// `PUT /v1/rounds/{round}/updates` (202): the update is durable and folded in.
    public typealias UpdateReceipt = FleetWire.UpdateReceipt
    /// The error body: `{"error": code, "message": text}`, plus the open round for 409s.
    public typealias ErrorBody = ErrorReply

    /// `GET /v1/status`.
    public struct Status: Sendable, Equatable, Codable {
        public struct Round: Sendable, Equatable, Codable {
            public var number: UInt64
            /// `collecting`, `aggregating` or `gating`.
            public var phase: String
            public var participants: Int
            public var accepted: Int
            public var deadlineSeconds: Double

            enum CodingKeys: String, CodingKey {
                case number, phase, participants, accepted
                case deadlineSeconds = "deadline_seconds"
            }
        }
        public var currentVersion: UInt64
        public var nodesOnline: Int
        public var round: Round?
        /// Set when the coordinator serves an older version because a newer
        /// published one could not be loaded (a damaged checkpoint).
        public var storageWarning: String?

        public init(currentVersion: UInt64, nodesOnline: Int, round: Round?, storageWarning: String? = nil) {
            self.currentVersion = currentVersion
            self.nodesOnline = nodesOnline
            self.round = round
            self.storageWarning = storageWarning
        }

        enum CodingKeys: String, CodingKey {
            case round
            case currentVersion = "current_version"
            case nodesOnline = "nodes_online"
            case storageWarning = "storage_warning"
        }
    }
}
