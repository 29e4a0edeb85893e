/// The agent could not do what was asked; the message says what to fix.
///
/// A stable ``Code`` to match on, a message a person can act on, and context
/// (file, field, line); equality is on the code only.
public struct AgentError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A configuration value is missing or out of range (the message names the field).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A downloaded model failed verification: signature, hash, size, version or architecture.
        public static let modelRejected = Code("modelRejected")
        /// A downloaded model delta did not rebuild the signed checkpoint from the
        /// version the node holds (or did not apply to it); the node downloads the
        /// whole checkpoint instead.
        public static let deltaRejected = Code("deltaRejected")
        /// A verified download is not the version asked for, or is not newer than the
        /// installed version and the floor (the highest version ever installed): a rollback.
        public static let rollbackRefused = Code("rollbackRefused")
        /// The coordinator's freshness statement does not verify, has expired, goes backwards
        /// or names a version below the floor.
        public static let freshnessRefused = Code("freshnessRefused")
        /// The data directory or a file in it could not be read or written.
        public static let storage = Code("storage")
        /// A line of the observation feed is not a valid frame.
        public static let invalidObservation = Code("invalidObservation")
        /// The simulator content (regions, scenarios, rules) could not be loaded.
        public static let simulatorContent = Code("simulatorContent")
    }

    public var code: Code
    public var message: String
    public var context: [String: String]

    public init(_ code: Code, _ message: String, context: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.context = context
    }

    public static func == (lhs: AgentError, rhs: AgentError) -> Bool { lhs.code == rhs.code }

    public var description: String {
        let extra = context.keys.sorted().map { "\($0)=\(context[$0]!)" }.joined(separator: ", ")
        return "AgentError.\(code): \(message)" + (extra.isEmpty ? "" : " [\(extra)]")
    }
}
