import Foundation

/// The node's settings as a person writes them — from flags, a JSON config
/// file or `FLEET_NODE_*` environment variables — before they are checked.
///
/// Why three sources and one type: an operator keeps the fleet-wide settings
/// in a file, a deployment sets a few per device in the environment, and a
/// person debugging overrides one on the command line. Each source fills the
/// same optional fields; ``merged(over:)`` lays them over each other (flags
/// over environment over file) and ``NodeBuilder`` turns the result into a
/// validated configuration, naming the source and field of any bad value.
public struct NodeSettings: Sendable, Equatable {
    public var coordinator: String?
    public var cert: String?
    public var key: String?
    public var ca: String?
    public var signingKey: String?
    public var dataDir: String?
    public var region: String?
    /// `simulated`, `-` (standard input) or a file of JSON lines.
    public var observations: String?
    public var decisions: String?
    public var simulator: String?
    public var seed: UInt64?
    public var variations: Int?
    public var anchorEpisodes: Int?
    /// The most captures one lesson learns from.
    public var maxCaptures: Int?
    public var pollWait: Int?
    public var speedup: Double?
    public var shadowTeacher: Bool?
    public var guardrail: Bool?
    public var logLevel: String?
    public var metricsFile: String?

    public init() {}

    /// Each setting: its config-file key, its environment variable, and how to read a text value into it.
    struct Field: Sendable {
        let key: String
        let apply: @Sendable (inout NodeSettings, String) -> Bool
        var environment: String { "FLEET_NODE_" + key.uppercased().replacingOccurrences(of: "-", with: "_") }
    }

    static let fields: [Field] = [
        Field(key: "coordinator") { $0.coordinator = $1; return true },
        Field(key: "cert") { $0.cert = $1; return true },
        Field(key: "key") { $0.key = $1; return true },
        Field(key: "ca") { $0.ca = $1; return true },
        Field(key: "signing-key") { $0.signingKey = $1; return true },
        Field(key: "data-dir") { $0.dataDir = $1; return true },
        Field(key: "region") { $0.region = $1; return true },
        Field(key: "observations") { $0.observations = $1; return true },
        Field(key: "decisions") { $0.decisions = $1; return true },
        Field(key: "simulator") { $0.simulator = $1; return true },
        Field(key: "seed") { s, v in s.seed = UInt64(v); return s.seed != nil },
        Field(key: "variations") { s, v in s.variations = Int(v); return s.variations != nil },
        Field(key: "anchor-episodes") { s, v in s.anchorEpisodes = Int(v); return s.anchorEpisodes != nil },
        Field(key: "max-captures") { s, v in s.maxCaptures = Int(v); return s.maxCaptures != nil },
        Field(key: "poll-wait") { s, v in s.pollWait = Int(v); return s.pollWait != nil },
        Field(key: "speedup") { s, v in s.speedup = Double(v); return s.speedup != nil },
        Field(key: "shadow-teacher") { s, v in s.shadowTeacher = Self.bool(v); return s.shadowTeacher != nil },
        Field(key: "guardrail") { s, v in s.guardrail = Self.bool(v); return s.guardrail != nil },
        Field(key: "log-level") { $0.logLevel = $1; return true },
        Field(key: "metrics-file") { $0.metricsFile = $1; return true },
    ]

    /// The keys a config file may hold (also the long flag names).
    public static var keys: [String] { fields.map(\.key) }

    /// Reads `FLEET_NODE_*` variables (e.g. `FLEET_NODE_SIGNING_KEY`).
    /// - Throws: ``AgentError/Code/invalidConfiguration`` naming the variable with a bad value.
    public init(environment: [String: String]) throws(AgentError) {
        for field in Self.fields {
            guard let value = environment[field.environment] else { continue }
            guard field.apply(&self, value) else {
                throw AgentError(.invalidConfiguration, "\(field.environment)='\(value)' is not a valid value", context: ["field": field.environment])
            }
        }
    }

    /// Reads a JSON config file: one object whose keys are the long flag names (`"signing-key": "model-signing.pub"`).
    /// - Throws: ``AgentError/Code/invalidConfiguration`` naming the file and the bad key.
    public init(configFile path: String) throws(AgentError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentError(.invalidConfiguration, "config file \(path) cannot be read", context: ["field": "config"])
        }
        let object: [String: Scalar]
        do {
            object = try JSONDecoder().decode([String: Scalar].self, from: data)
        } catch {
            throw AgentError(.invalidConfiguration,
                             "config file \(path) must hold one JSON object of strings, numbers and booleans: \(error)",
                             context: ["field": "config"])
        }
        let byKey = Dictionary(uniqueKeysWithValues: Self.fields.map { ($0.key, $0) })
        for key in object.keys.sorted() {
            guard let field = byKey[key] else {
                throw AgentError(.invalidConfiguration, "config file \(path): unknown key '\(key)' (known: \(Self.keys.joined(separator: ", ")))",
                                 context: ["field": key])
            }
            let text = object[key]!.text
            guard field.apply(&self, text) else {
                throw AgentError(.invalidConfiguration, "config file \(path): '\(key)' = \(text) is not a valid value", context: ["field": key])
            }
        }
    }

    /// These settings, with every unset field taken from `lower`.
    public func merged(over lower: NodeSettings) -> NodeSettings {
        var result = self
        result.coordinator = coordinator ?? lower.coordinator
        result.cert = cert ?? lower.cert
        result.key = key ?? lower.key
        result.ca = ca ?? lower.ca
        result.signingKey = signingKey ?? lower.signingKey
        result.dataDir = dataDir ?? lower.dataDir
        result.region = region ?? lower.region
        result.observations = observations ?? lower.observations
        result.decisions = decisions ?? lower.decisions
        result.simulator = simulator ?? lower.simulator
        result.seed = seed ?? lower.seed
        result.variations = variations ?? lower.variations
        result.anchorEpisodes = anchorEpisodes ?? lower.anchorEpisodes
        result.maxCaptures = maxCaptures ?? lower.maxCaptures
        result.pollWait = pollWait ?? lower.pollWait
        result.speedup = speedup ?? lower.speedup
        result.shadowTeacher = shadowTeacher ?? lower.shadowTeacher
        result.guardrail = guardrail ?? lower.guardrail
        result.logLevel = logLevel ?? lower.logLevel
        result.metricsFile = metricsFile ?? lower.metricsFile
        return result
    }

    /// One config-file value.
    enum Scalar: Decodable {
        case string(String), bool(Bool), integer(Int64), number(Double)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Int64.self) { self = .integer(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else { self = .string(try container.decode(String.self)) }
        }

        var text: String {
            switch self {
            case .string(let value): value
            case .bool(let value): value ? "true" : "false"
            case .integer(let value): String(value)
            case .number(let value): String(value)
            }
        }
    }

    static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off": false
        default: nil
        }
    }
}
