/// A request to the coordinator did not end with the answer the node wanted.
///
/// Why one type with a code: the sync loop must tell two kinds of failure
/// apart. A *transport failure* (no connection, a timeout, a dropped
/// connection, a 5xx, a 429) says nothing about the request itself, so the
/// same request is repeated after a backoff. A *refusal* (a 4xx with the
/// coordinator's JSON error) says the coordinator looked at the request and
/// will never take it as it is, so retrying is pointless. A 409 on an upload
/// also names the round that takes updates now. Equality is on the code.
public struct ConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable identifier of the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The coordinator's URL or the connection settings are unusable.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// No TCP connection could be opened (refused, unreachable, connect timeout).
        public static let connectFailed = Code("connectFailed")
        /// The TLS handshake or a TLS record failed.
        public static let tlsFailed = Code("tlsFailed")
        /// No complete answer arrived within the request's time bound.
        public static let timedOut = Code("timedOut")
        /// The connection closed before the answer was complete.
        public static let connectionClosed = Code("connectionClosed")
        /// The answer was larger than the bound for its kind.
        public static let responseTooLarge = Code("responseTooLarge")
        /// The answer could not be understood (bad JSON, missing header, unexpected status).
        public static let invalidResponse = Code("invalidResponse")
        /// The coordinator failed on its side (5xx) or asked to slow down (429, 408).
        public static let serverUnavailable = Code("serverUnavailable")
        /// The coordinator refused the request for good (4xx other than 408, 409 and 429).
        public static let refused = Code("refused")
        /// The round is closed, the update repeats one already taken, or its base is too old (409).
        public static let roundConflict = Code("roundConflict")
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, in words a person can act on.
    public var message: String
    /// The HTTP status, when an answer arrived.
    public var status: Int?
    /// The coordinator's error code (`round_closed`, `invalid_update`, …), when it sent one.
    public var errorCode: String?
    /// For ``Code/roundConflict``: the round taking updates now, if the coordinator named one.
    public var currentRound: UInt64?
    /// Where the error was raised (`#fileID:#line`).
    public var location: String

    public init(
        _ code: Code, _ message: String, status: Int? = nil, errorCode: String? = nil, currentRound: UInt64? = nil,
        fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.errorCode = errorCode
        self.currentRound = currentRound
        location = "\(fileID):\(line)"
    }

    /// Whether repeating the same request later may succeed (see the type's documentation).
    public var isTransportFailure: Bool {
        switch code {
        case .refused, .roundConflict, .invalidConfiguration: false
        default: true
        }
    }

    public static func == (lhs: ConnectionError, rhs: ConnectionError) -> Bool { lhs.code == rhs.code }

    public var description: String {
        var text = "ConnectionError.\(code): \(message)"
        if let status { text += " [status \(status)" + (errorCode.map { ", \($0)" } ?? "") + "]" }
        return text
    }
}
