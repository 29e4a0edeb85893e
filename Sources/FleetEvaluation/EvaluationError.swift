/// An error raised while putting a policy on the road: a checkpoint that is
/// missing or of the wrong shape for the simulator's observation.
///
/// Like every error of the project it has a stable ``Code`` to match on, a
/// message a person can act on, and context; equality is on the code only, so
/// more context never breaks a `catch`.
public struct EvaluationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The policy's input or output size does not match the simulator's observation or actions.
        public static let incompatiblePolicy = Code("incompatiblePolicy")
        /// The base policy checkpoint could not be found or read.
        public static let missingCheckpoint = Code("missingCheckpoint")
    }

    public var code: Code
    public var message: String
    public var context: [String: String]

    public init(_ code: Code, _ message: String, context: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.context = context
    }

    public var description: String {
        let extra = context.keys.sorted().map { "\($0)=\(context[$0]!)" }.joined(separator: ", ")
        return "EvaluationError.\(code): \(message)" + (extra.isEmpty ? "" : " [\(extra)]")
    }

    public static func == (lhs: EvaluationError, rhs: EvaluationError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
