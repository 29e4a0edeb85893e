public import Foundation

/// The gold-standard regression suite: a fixed, versioned list of episodes.
///
/// Every candidate model drives exactly these episodes, so results are
/// comparable across versions. The file is generated once by
/// `GoldSuite.generate` (deterministic: episode i of a family uses seed
/// `mix(scenario.seed, i)` and parameters sampled from it) and committed;
/// changing the list means a new version.
public struct GoldSuite: Sendable, Codable, Equatable {
    public static let schema = "fleet-gold/1"
    public static let fileName = "gold-v4.json"

    public var schema: String
    public var version: Int
    public var description: String
    public var episodes: [EpisodeSpec]

    public init(version: Int, description: String, episodes: [EpisodeSpec]) {
        self.schema = GoldSuite.schema
        self.version = version
        self.description = description
        self.episodes = episodes
    }

    /// Families in the suite, sorted.
    public var families: [String] { Array(Set(episodes.map(\.family))).sorted() }

    /// `perFamily` episodes for every scenario of `library`.
    public static func generate(library: ScenarioLibrary, perFamily: Int, version: Int) -> GoldSuite {
        var episodes: [EpisodeSpec] = []
        for scenario in library.scenarios {
            for index in 0..<perFamily {
                episodes.append(ScenarioBuilder.episode(scenario, index: index))
            }
        }
        return GoldSuite(version: version,
                         description: "\(perFamily) episodes per family; episode i uses seed mix(scenario seed, i)",
                         episodes: episodes)
    }

    /// Reads and validates a suite against `library`: every entry must name a known
    /// scenario, declared parameters within their ranges, and build.
    public static func load(contentsOf url: URL, library: ScenarioLibrary) throws -> GoldSuite {
        let file = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SimulationError(code: .unreadableFile, message: "cannot read the suite (\(error.localizedDescription))", file: file)
        }
        let root = try ScenarioParser.readJSON(data, file: file)
        let top = try root.object(allowed: ["schema", "version", "description", "episodes"])
        let schema = try top.string("schema")
        guard schema == GoldSuite.schema else {
            throw SimulationError(code: .unsupportedSchema, message: "schema '\(schema)' is not supported (expected '\(GoldSuite.schema)')",
                                  file: file, field: "schema")
        }
        var episodes: [EpisodeSpec] = []
        var ids = Set<String>()
        for item in try top.field("episodes").array() {
            let entry = try item.object(allowed: ["id", "family", "scenario", "seed", "parameters"])
            let id = try entry.string("id")
            guard ids.insert(id).inserted else { throw try entry.field("id").error("duplicate episode id '\(id)'") }
            let family = try entry.string("family")
            let scenarioFile = try entry.string("scenario")
            guard let scenario = library.scenario(file: scenarioFile) else {
                throw try entry.field("scenario").error("no scenario file '\(scenarioFile)'", code: .unknownReference)
            }
            guard scenario.family == family else {
                throw try entry.field("family").error("'\(family)' does not match the scenario's family '\(scenario.family)'")
            }
            let seed = try entry.number("seed", in: 0...Double(EpisodeSpec.seedMask))
            var parameters: [String: Double] = [:]
            if let list = entry.optional("parameters") {
                guard case .object(let fields) = list.value else { throw list.error("expected an object", code: .malformedJSON) }
                for name in fields.keys.sorted() {
                    let field = JSONField(value: fields[name]!, path: list.path + "." + name, file: file)
                    guard let declared = scenario.parameters[name] else {
                        throw field.error("parameter '\(name)' is not declared by \(scenarioFile)", code: .unknownReference)
                    }
                    let value = try field.number()
                    guard value >= declared.lowerBound - 1e-9 && value <= declared.upperBound + 1e-9 else {
                        throw field.error("\(value) is outside the declared \(declared.lowerBound)…\(declared.upperBound)")
                    }
                    parameters[name] = value
                }
            }
            episodes.append(EpisodeSpec(id: id, family: family, scenario: scenarioFile, seed: UInt64(seed), parameters: parameters))
        }
        return GoldSuite(version: try top.integer("version", in: 1...1_000_000),
                         description: try top.string("description", default: ""), episodes: episodes)
    }

    /// Pretty, key-sorted JSON (stable bytes for a committed file).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self)
    }
}

extension GoldSuite {
    /// Loads every suite file in a directory and concatenates their episodes (file name order).
    public static func loadDirectory(_ directory: URL, library: ScenarioLibrary) throws -> [EpisodeSpec] {
        var episodes: [EpisodeSpec] = []
        for file in try ScenarioLibrary.jsonFiles(in: directory) {
            episodes += try load(contentsOf: file, library: library).episodes
        }
        return episodes
    }
}
