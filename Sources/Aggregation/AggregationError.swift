/// Why an update was refused or a round could not be aggregated.
///
/// The coordinator maps each code to an HTTP status and shows the message to
/// the node's operator, so messages say what was wrong and with which value.
/// Equality considers the code only.
public struct AggregationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The update was computed against another model architecture.
        public static let architectureMismatch = Code("architectureMismatch")
        /// The update answers another round than the open one.
        public static let wrongRound = Code("wrongRound")
        /// The update's base version is too old, or newer than the current version.
        public static let staleBaseVersion = Code("staleBaseVersion")
        /// The update names a tensor the model does not have.
        public static let unknownTensor = Code("unknownTensor")
        /// A tensor's shape differs from the model's.
        public static let shapeMismatch = Code("shapeMismatch")
        /// The routing counts do not cover the model's experts.
        public static let routingCountMismatch = Code("routingCountMismatch")
        /// A number in the update is outside what any lesson can produce
        /// (a routing count past the bound, a base version that never existed).
        public static let implausibleValue = Code("implausibleValue")
        /// The update adds more experts than allowed, out of order, or without routed samples.
        public static let invalidAddition = Code("invalidAddition")
        /// The update's L2 norm is past the configured bound.
        public static let normBoundExceeded = Code("normBoundExceeded")
        /// The node already contributed to this round.
        public static let duplicateNode = Code("duplicateNode")
        /// A robust rule's buffer is full.
        public static let bufferFull = Code("bufferFull")
        /// The round has no update to aggregate.
        public static let emptyRound = Code("emptyRound")
        /// The configuration is inconsistent.
        public static let invalidConfiguration = Code("invalidConfiguration")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "AggregationError.\(code): \(message)" }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
