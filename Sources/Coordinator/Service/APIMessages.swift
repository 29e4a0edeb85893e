/// The JSON bodies of the coordinator API (`Protocols/fleet-api.openapi.yaml`),
/// with the spec's snake_case keys. The service answers with these values
/// in-process; the HTTP layer only encodes them.
public enum API {
    /// `POST /v1/heartbeat`: the node's state while it drives, adapts or uploads.
    public struct Heartbeat: Sendable, Equatable, Codable {
        public enum State: String, Sendable, Codable { case driving, adapting, uploading, idle }
        public var state: State
        public var modelVersion: UInt64?
        public var region: String?
        public var capturesPending: Int?

        public init(state: State, modelVersion: UInt64? = nil, region: String? = nil, capturesPending: Int? = nil) {
            self.state = state
            self.modelVersion = modelVersion
            self.region = region
            self.capturesPending = capturesPending
        }

        enum CodingKeys: String, CodingKey {
            case state, region
            case modelVersion = "model_version"
            case capturesPending = "captures_pending"
        }
    }

    /// The answer to a heartbeat.
    public struct HeartbeatReply: Sendable, Equatable, Codable {
        public var currentVersion: UInt64
        public var openRound: UInt64?
        /// Seconds until the next heartbeat is due.
        public var heartbeatInterval: Double

        enum CodingKeys: String, CodingKey {
            case currentVersion = "current_version"
            case openRound = "open_round"
            case heartbeatInterval = "heartbeat_interval"
        }
    }

    /// `GET /v1/task` (200): adapt on `baseVersion` and send an update for `round`.
    public struct Task: Sendable, Equatable, Codable {
        public var round: UInt64
        public var baseVersion: UInt64
        /// Seconds left before the round closes.
        public var deadlineSeconds: Double

        enum CodingKeys: String, CodingKey {
            case round
            case baseVersion = "base_version"
            case deadlineSeconds = "deadline_seconds"
        }
    }

    /// `PUT /v1/rounds/{round}/updates` (202): the update is durable and folded in.
    public struct UpdateReceipt: Sendable, Equatable, Codable {
        public var round: UInt64
        /// Updates the round has accepted so far, this one included.
        public var acceptedUpdates: Int
        /// How many versions the update's base lags behind the round's.
        public var staleness: Int
        /// Whether norm clipping will scale it down.
        public var clipped: Bool

        enum CodingKeys: String, CodingKey {
            case round, staleness, clipped
            case acceptedUpdates = "accepted_updates"
        }
    }

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

        enum CodingKeys: String, CodingKey {
            case round
            case currentVersion = "current_version"
            case nodesOnline = "nodes_online"
        }
    }

    /// The error body: `{"error": code, "message": text}`, plus the open round for 409s.
    public struct ErrorBody: Sendable, Equatable, Codable {
        public var error: String
        public var message: String
        public var currentRound: UInt64?

        public init(error: String, message: String, currentRound: UInt64? = nil) {
            self.error = error
            self.message = message
            self.currentRound = currentRound
        }

        enum CodingKeys: String, CodingKey {
            case error, message
            case currentRound = "current_round"
        }
    }
}
