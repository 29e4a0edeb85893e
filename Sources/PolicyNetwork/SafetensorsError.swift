/// Why a safetensors file was rejected (or could not be written).
///
/// The reader is strict: a checkpoint that is even slightly malformed is
/// refused with the first problem found, before any tensor is handed out, so a
/// corrupt download can never become a half-loaded model. Equality is on the code.
public struct SafetensorsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file ends before the 8-byte length, the header or the data it declares.
        public static let truncated = Code("truncated")
        /// The declared header is longer than the reader's limit.
        public static let headerTooLarge = Code("headerTooLarge")
        /// The header is not valid JSON (or not a JSON object).
        public static let invalidHeaderJSON = Code("invalidHeaderJSON")
        /// A tensor entry lacks `dtype`, `shape` or `data_offsets`, or has the wrong types.
        public static let invalidEntry = Code("invalidEntry")
        /// The dtype is not one this reader converts (F32, F16, BF16, F64).
        public static let unsupportedDType = Code("unsupportedDType")
        /// The byte range does not hold exactly shape-product × dtype-size bytes.
        public static let shapeSizeMismatch = Code("shapeSizeMismatch")
        /// A tensor's byte range ends beyond the data section or begins after it ends.
        public static let offsetsOutOfBounds = Code("offsetsOutOfBounds")
        /// Two tensors' byte ranges overlap.
        public static let overlappingOffsets = Code("overlappingOffsets")
        /// Bytes of the data section belong to no tensor (a gap or trailing bytes).
        public static let incompleteCoverage = Code("incompleteCoverage")
        /// There are more tensors (or dimensions) than the reader's limits.
        public static let limitExceeded = Code("limitExceeded")
        /// The file could not be read or written.
        public static let ioFailure = Code("ioFailure")
        /// The parameters are not what a policy needs (wrong names or shapes, bad architecture).
        public static let invalidModel = Code("invalidModel")
    }

    /// What went wrong, for matching.
    public var code: Code
    /// What went wrong and what to do about it, for a person.
    public var message: String
    /// Extra facts (tensor name, offsets) that locate the problem.
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
