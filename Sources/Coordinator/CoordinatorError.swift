/// A coordinator error: a stable code, the HTTP status it maps to, and a
/// message a node's operator can act on. Equality considers the code only.
public struct CoordinatorError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// The HTTP status a request failing this way gets.
        public let status: Int
        private init(_ name: String, _ status: Int) {
            self.name = name
            self.status = status
        }
        public var description: String { name }

        public static let invalidConfiguration = Code("invalid_configuration", 500)
        /// The update answers a round that is not collecting (late or early).
        public static let roundClosed = Code("round_closed", 409)
        /// The node was not invited to this round.
        public static let notParticipant = Code("not_participant", 403)
        /// The node already sent its update for this round.
        public static let duplicateUpdate = Code("duplicate_update", 409)
        /// The version asked to be approved is already published or was rejected.
        public static let notAwaitingApproval = Code("not_awaiting_approval", 409)
        /// The update is based on a model version the coordinator will not accept.
        public static let staleUpdate = Code("stale_update", 409)
        /// The body is not a valid update (codec or validation failure).
        public static let invalidUpdate = Code("invalid_update", 400)
        /// The body or its decompressed size is too large.
        public static let payloadTooLarge = Code("payload_too_large", 413)
        /// The certificate's node is revoked or unknown.
        public static let forbidden = Code("forbidden", 403)
        /// Nothing at that path, or no such version.
        public static let notFound = Code("not_found", 404)
        /// A query parameter or JSON body does not match the API schema.
        public static let invalidRequest = Code("invalid_request", 400)
        /// The request's body is not in the encoding the route takes.
        public static let unsupportedMediaType = Code("unsupported_media_type", 415)
        /// The request's body did not arrive in time.
        public static let requestTimeout = Code("request_timeout", 408)
        /// Stored state is damaged or unreadable.
        public static let storage = Code("storage", 500)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "CoordinatorError.\(code): \(message)" }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
