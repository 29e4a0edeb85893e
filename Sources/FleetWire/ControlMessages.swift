/// The JSON control messages of the coordinator API
/// (`Protocols/fleet-api.openapi.yaml`), with the spec's snake_case keys —
/// one definition that the coordinator answers with and the node reads.

/// A node's heartbeat (`POST /v1/heartbeat`): it registers the node on first
/// contact and keeps it counted as alive during long local work.
public struct NodeHeartbeat: Sendable, Equatable, Codable {
    /// What the node is busy with.
    public enum State: String, Sendable, Codable, CaseIterable {
        case driving, adapting, uploading, idle
    }

    public var state: State
    /// The verified model version the node runs; nil before it has one.
    public var modelVersion: UInt64?
    /// The region the node drives in.
    public var region: String?
    /// Captures waiting in the spool.
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

/// The coordinator's answer to a heartbeat.
public struct HeartbeatReply: Sendable, Equatable, Codable {
    /// The coordinator's published version.
    public var currentVersion: UInt64
    /// The round taking updates, if any.
    public var openRound: UInt64?
    /// Seconds until the next heartbeat is due.
    public var heartbeatInterval: Double
    /// The signed, short-lived statement that ``currentVersion`` is current
    /// (``FreshnessStatement``); absent from coordinators that predate it.
    public var freshness: SignedFreshness?

    public init(currentVersion: UInt64, openRound: UInt64?, heartbeatInterval: Double, freshness: SignedFreshness? = nil) {
        self.currentVersion = currentVersion
        self.openRound = openRound
        self.heartbeatInterval = heartbeatInterval
        self.freshness = freshness
    }

    enum CodingKeys: String, CodingKey {
        case freshness
        case currentVersion = "current_version"
        case openRound = "open_round"
        case heartbeatInterval = "heartbeat_interval"
    }
}

/// Work handed to this node (`GET /v1/task`): adapt on `baseVersion`, send an update for `round`.
public struct TaskAssignment: Sendable, Equatable, Codable {
    /// How the coordinator wants the delta compressed this round.
    public struct Compression: Sendable, Equatable, Codable {
        /// The top-k share of each tensor's entries kept.
        public var fraction: Double?
        /// Whether values are int8-quantized.
        public var quantize: Bool?

        public init(fraction: Double? = nil, quantize: Bool? = nil) {
            self.fraction = fraction
            self.quantize = quantize
        }
    }

    public var round: UInt64
    public var baseVersion: UInt64
    /// Seconds left before the round closes.
    public var deadlineSeconds: Double
    public var compression: Compression?

    public init(round: UInt64, baseVersion: UInt64, deadlineSeconds: Double, compression: Compression? = nil) {
        self.round = round
        self.baseVersion = baseVersion
        self.deadlineSeconds = deadlineSeconds
        self.compression = compression
    }

    enum CodingKeys: String, CodingKey {
        case round, compression
        case baseVersion = "base_version"
        case deadlineSeconds = "deadline_seconds"
    }
}

/// The coordinator's receipt for an accepted update (202).
public struct UpdateReceipt: Sendable, Equatable, Codable {
    public var round: UInt64
    /// Updates accepted in the round so far, this one included.
    public var acceptedUpdates: Int
    /// How many versions old the update's base was.
    public var staleness: Int?
    /// Whether the update was norm-clipped.
    public var clipped: Bool?

    public init(round: UInt64, acceptedUpdates: Int, staleness: Int? = nil, clipped: Bool? = nil) {
        self.round = round
        self.acceptedUpdates = acceptedUpdates
        self.staleness = staleness
        self.clipped = clipped
    }

    enum CodingKeys: String, CodingKey {
        case round, staleness, clipped
        case acceptedUpdates = "accepted_updates"
    }
}

/// The error body every refusal carries: `{"error": code, "message": text}`,
/// plus the open round for a 409.
public struct ErrorReply: Sendable, Equatable, Codable {
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
