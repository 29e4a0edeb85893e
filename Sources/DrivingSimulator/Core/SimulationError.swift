/// An error raised by the simulator: bad scenario files, bad rules, bad captures.
///
/// Errors carry a stable `code` to branch on, a `message` a person can act on
/// (it names the file and the field), and the `file` and `field` separately so
/// tools can point at them. Equality is on the code only, so new context can be
/// added without breaking callers that match on it.
public struct SimulationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of problem this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The file could not be read.
        public static let unreadableFile = Code(name: "unreadableFile")
        /// The JSON is not well formed or a value has the wrong type.
        public static let malformedJSON = Code(name: "malformedJSON")
        /// The file declares a schema this build does not understand.
        public static let unsupportedSchema = Code(name: "unsupportedSchema")
        /// A value is present but out of its allowed range or inconsistent.
        public static let invalidValue = Code(name: "invalidValue")
        /// A name (scenario family, parameter, agent) refers to nothing.
        public static let unknownReference = Code(name: "unknownReference")
    }

    public let code: Code
    /// A sentence naming the file, the field and what is wrong.
    public let message: String
    /// The file the problem is in, when there is one.
    public let file: String?
    /// The JSON path of the offending field, e.g. `agents[1].actions[0].when.value`.
    public let field: String?

    public init(code: Code, message: String, file: String? = nil, field: String? = nil) {
        self.code = code
        self.file = file
        self.field = field
        var text = ""
        if let file { text += "\(file): " }
        if let field { text += "field '\(field)': " }
        self.message = text + message
    }

    public var description: String { message }

    public static func == (lhs: SimulationError, rhs: SimulationError) -> Bool { lhs.code == rhs.code }
}
