/// An error raised by the policy network: a bad shape, an unknown parameter,
/// an expert index out of range, an architecture that cannot be built.
///
/// Errors are values with a stable ``Code`` that callers match on, a message a
/// person can act on, and context (which parameter, which shape) so that a
/// failure far from its cause still says where it came from. Two errors are
/// equal when their codes are equal, so new context never breaks a `catch`.
public struct PolicyNetworkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Two tensors (or a tensor and its declared shape) do not fit together.
        public static let shapeMismatch = Code("shapeMismatch")
        /// The architecture description has a field out of range.
        public static let invalidArchitecture = Code("invalidArchitecture")
        /// A parameter name is not part of the set or the policy.
        public static let unknownParameter = Code("unknownParameter")
        /// A parameter the policy needs is absent from the set.
        public static let missingParameter = Code("missingParameter")
        /// A parameter name occurs twice.
        public static let duplicateParameter = Code("duplicateParameter")
        /// Two parameter sets do not hold the same names and shapes.
        public static let layoutMismatch = Code("layoutMismatch")
        /// An expert index is outside `0..<experts`.
        public static let invalidExpert = Code("invalidExpert")
        /// An argument (batch size, label, fraction) is out of range.
        public static let invalidArgument = Code("invalidArgument")
    }

    /// What went wrong, for matching.
    public var code: Code
    /// What went wrong and what to do about it, for a person.
    public var message: String
    /// Extra facts (parameter name, shapes) that locate the problem.
    public var context: [String: String]

    /// An error with a code, a message and optional context.
    public init(_ code: Code, _ message: String, context: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.context = context
    }

    public var description: String {
        guard !context.isEmpty else { return "\(code): \(message)" }
        let details = context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "\(code): \(message) [\(details)]"
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
