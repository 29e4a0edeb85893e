/// A parsed JSON document, kept as a tree so readers can check every key and name the path of a bad one.
///
/// Why not decode straight into the model types: `JSONDecoder` silently drops
/// unknown keys (a misspelt `"frition"` would go unnoticed) and its errors do
/// not name the file. Reading through this tree lets validation reject unknown
/// fields and report `file: field 'agents[1].actions[0].when': …`.
enum JSONValue: Sendable, Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let value = try? c.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? c.decode(Double.self) {
            self = .number(value)
        } else if let value = try? c.decode(String.self) {
            self = .string(value)
        } else if let value = try? c.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON value with its location, for error messages.
struct JSONField {
    let value: JSONValue
    let path: String
    let file: String

    func error(_ message: String, code: SimulationError.Code = .invalidValue) -> SimulationError {
        SimulationError(code: code, message: message, file: file, field: path.isEmpty ? nil : path)
    }

    /// The value as an object whose keys must all be in `allowed`.
    func object(allowed: Set<String>) throws -> JSONObject {
        guard case .object(let fields) = value else {
            throw error("expected an object, found \(value.typeName)", code: .malformedJSON)
        }
        for key in fields.keys.sorted() where !allowed.contains(key) {
            let child = path.isEmpty ? key : path + "." + key
            throw SimulationError(code: .invalidValue,
                                  message: "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))",
                                  file: file, field: child)
        }
        return JSONObject(fields: fields, path: path, file: file)
    }

    func number() throws -> Double {
        guard case .number(let number) = value, number.isFinite else {
            throw error("expected a number, found \(value.typeName)", code: .malformedJSON)
        }
        return number
    }

    func string() throws -> String {
        guard case .string(let text) = value else {
            throw error("expected a string, found \(value.typeName)", code: .malformedJSON)
        }
        return text
    }

    func array() throws -> [JSONField] {
        guard case .array(let items) = value else {
            throw error("expected an array, found \(value.typeName)", code: .malformedJSON)
        }
        return items.enumerated().map { JSONField(value: $1, path: "\(path)[\($0)]", file: file) }
    }
}

/// An object being read field by field.
struct JSONObject {
    let fields: [String: JSONValue]
    let path: String
    let file: String

    func has(_ key: String) -> Bool { fields[key] != nil }

    func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func field(_ key: String) throws -> JSONField {
        guard let value = fields[key] else {
            throw SimulationError(code: .invalidValue, message: "required field is missing", file: file, field: child(key))
        }
        return JSONField(value: value, path: child(key), file: file)
    }

    func optional(_ key: String) -> JSONField? {
        fields[key].map { JSONField(value: $0, path: child(key), file: file) }
    }

    func number(_ key: String, in range: ClosedRange<Double>, default fallback: Double? = nil) throws -> Double {
        guard let field = optional(key) else {
            if let fallback { return fallback }
            return try self.field(key).number()
        }
        let number = try field.number()
        guard range.contains(number) else {
            throw field.error("\(number) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return number
    }

    func integer(_ key: String, in range: ClosedRange<Int>, default fallback: Int? = nil) throws -> Int {
        guard let field = optional(key) else {
            if let fallback { return fallback }
            return Int(try self.field(key).number())
        }
        let number = try field.number()
        guard number == number.rounded(), number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            throw field.error("\(number) must be a whole number in \(range.lowerBound)…\(range.upperBound)")
        }
        return Int(number)
    }

    func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let field = optional(key) else {
            if let fallback { return fallback }
            return try self.field(key).string()
        }
        return try field.string()
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let field = optional(key) else { return fallback }
        guard case .bool(let flag) = field.value else {
            throw field.error("expected true or false, found \(field.value.typeName)", code: .malformedJSON)
        }
        return flag
    }
}
