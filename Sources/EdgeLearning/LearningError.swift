/// An error raised by the edge-learning pipeline: nothing to learn from, a
/// policy of the wrong shape, a delta that does not fit its base.
///
/// A stable ``Code`` to match on, a message a person can act on, and context;
/// equality is on the code only.
public struct LearningError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No captures, no variations or no labelled samples to learn from.
        public static let nothingToLearn = Code("nothingToLearn")
        /// A configuration value is out of range (the message names the field).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// The policy cannot drive or does not fit the data.
        public static let incompatiblePolicy = Code("incompatiblePolicy")
        /// A delta does not fit the model it is applied to.
        public static let deltaMismatch = Code("deltaMismatch")
        /// A capture's episode could not be replayed into variations (its scenario no longer builds).
        public static let unreplayableCapture = Code("unreplayableCapture")
        /// The task running the learning was cancelled (a node shutting down abandons its lesson).
        public static let cancelled = Code("cancelled")
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
        return "LearningError.\(code): \(message)" + (extra.isEmpty ? "" : " [\(extra)]")
    }

    /// Throws ``Code/cancelled`` when the current task has been cancelled: long
    /// loops check between rollouts and between epochs, so an abandoned lesson
    /// stops instead of computing on for minutes.
    static func checkCancellation(_ during: String) throws(LearningError) {
        if Task.isCancelled { throw LearningError(.cancelled, "cancelled during \(during)") }
    }

    public static func == (lhs: LearningError, rhs: LearningError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
