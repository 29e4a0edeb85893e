/// What went wrong in a fleet simulation — in process or as a fleet of
/// processes that could not start, ran into trouble or did not finish.
///
/// A stable ``Code`` to match on, a message a person can act on, and context
/// (the executable, the log file); equality is on the code only.
public struct SimulationError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A setting is out of range (the message names it).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// `fleet-coordinator` or `fleet-node` is not built where it was looked for.
        public static let missingExecutable = Code("missingExecutable")
        /// The output directory or a file in it could not be prepared.
        public static let storage = Code("storage")
        /// `fleet-coordinator certs` failed to make the fleet's keys.
        public static let certificates = Code("certificates")
        /// A process could not be started, or exited before the run was over.
        public static let processFailed = Code("processFailed")
        /// The coordinator's API answered with something unreadable or an error status.
        public static let coordinatorAPI = Code("coordinatorAPI")
        /// The fleet made no progress for longer than it was given.
        public static let timedOut = Code("timedOut")
    }

    public var code: Code
    public var message: String
    public var context: [String: String]

    /// A setting that makes no sense (the message names it).
    public init(_ message: String) {
        self.init(.invalidConfiguration, message)
    }

    public init(_ code: Code, _ message: String, context: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.context = context
    }

    public static func == (lhs: SimulationError, rhs: SimulationError) -> Bool { lhs.code == rhs.code }

    public var description: String {
        let extra = context.keys.sorted().map { "\($0)=\(context[$0]!)" }.joined(separator: ", ")
        return message + (extra.isEmpty ? "" : " [\(extra)]")
    }
}
