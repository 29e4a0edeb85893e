public import Foundation

/// A fleet region: the mix of edge-case families and conditions a node there meets.
///
/// Regions drive the fleet simulation: a node in `alpine` draws mostly ice
/// and stalled-vehicle episodes with low friction, a coastal node fog and
/// sensor dropout. Environment overrides, when given, replace the scenario's
/// own environment values for episodes drawn in the region.
public struct Region: Sendable, Codable, Equatable {
    public static let schema = "fleet-region/1"

    public var name: String
    public var description: String
    /// Relative weight of each family (normalized when drawing), by family name.
    public var families: [String: Double]
    /// Ranges that override the scenario environment, by field (`friction`, `visibility`, `sensorNoise`, `dropout`, `latency`).
    public var environment: [String: [Double]]

    /// Draws a family for the next episode.
    public func drawFamily(using generator: inout SeededGenerator) -> String {
        let names = families.keys.sorted()
        let total = names.reduce(0) { $0 + families[$1]! }
        var u = generator.unit() * total
        for name in names {
            u -= families[name]!
            if u < 0 { return name }
        }
        return names.last ?? ""
    }

    /// Applies the region's environment ranges to a built world.
    public func apply(to world: inout World, using generator: inout SeededGenerator) {
        for field in environment.keys.sorted() {
            let range = environment[field]!
            let value = generator.uniform(range[0], range[1])
            switch field {
            case "friction": world.environment.friction = value; world.frictionEstimate = value
            case "visibility": world.environment.visibility = value
            case "sensorNoise": world.environment.sensorNoise = value
            case "dropout": world.environment.dropout = value
            case "latency": world.environment.latency = value
            default: break
            }
        }
    }

    /// Loads and validates a region file against the known families.
    public static func load(contentsOf url: URL, library: ScenarioLibrary) throws -> Region {
        let file = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SimulationError(code: .unreadableFile, message: "cannot read the region (\(error.localizedDescription))", file: file)
        }
        let top = try ScenarioParser.readJSON(data, file: file).object(allowed: ["schema", "name", "description", "families", "environment"])
        let schema = try top.string("schema")
        guard schema == Region.schema else {
            throw SimulationError(code: .unsupportedSchema, message: "schema '\(schema)' is not supported (expected '\(Region.schema)')",
                                  file: file, field: "schema")
        }
        var families: [String: Double] = [:]
        let familyField = try top.field("families")
        guard case .object(let weights) = familyField.value, !weights.isEmpty else {
            throw familyField.error("expected a non-empty object of family weights")
        }
        for name in weights.keys.sorted() {
            let field = JSONField(value: weights[name]!, path: "families.\(name)", file: file)
            guard library.scenario(family: name) != nil else {
                throw field.error("unknown family '\(name)'", code: .unknownReference)
            }
            let weight = try field.number()
            guard weight > 0 else { throw field.error("weight must be positive") }
            families[name] = weight
        }
        let limits: [String: ClosedRange<Double>] = ["friction": 0.05...1.2, "visibility": 5...1_000, "sensorNoise": 0...5,
                                                     "dropout": 0...0.95, "latency": 0...2]
        var environment: [String: [Double]] = [:]
        if let field = top.optional("environment") {
            let object = try field.object(allowed: Set(limits.keys))
            for name in object.fields.keys.sorted() {
                let entry = try object.field(name)
                let bounds = try entry.array().map { try $0.number() }
                guard bounds.count == 2, bounds[0] <= bounds[1], limits[name]!.contains(bounds[0]), limits[name]!.contains(bounds[1]) else {
                    throw entry.error("expected [lower, upper] within \(limits[name]!.lowerBound)…\(limits[name]!.upperBound)")
                }
                environment[name] = bounds
            }
        }
        return Region(name: try top.string("name"), description: try top.string("description", default: ""),
                      families: families, environment: environment)
    }

    /// Loads every region in a directory.
    public static func loadAll(directory: URL, library: ScenarioLibrary) throws -> [Region] {
        try ScenarioLibrary.jsonFiles(in: directory).map { try load(contentsOf: $0, library: library) }
    }
}

extension Region {
    /// Episode `index` a node in this region meets: a family drawn by weight, its
    /// parameters sampled, the region's environment applied — all from `mix(seed, index)`.
    public func episode(_ index: Int, seed: UInt64, library: ScenarioLibrary) throws -> (EpisodeSpec, World) {
        var generator = SeededGenerator(seed: SeededGenerator.mix(seed, UInt64(index)))
        let family = drawFamily(using: &generator)
        guard let scenario = library.scenario(family: family) else {
            throw SimulationError(code: .unknownReference, message: "region '\(name)' names unknown family '\(family)'",
                                  field: "families.\(family)")
        }
        var episode = ScenarioBuilder.episode(scenario, index: index, baseSeed: generator.next() & EpisodeSpec.seedMask)
        episode.id = name + "-" + episode.id
        var world = try ScenarioBuilder.build(scenario, episode: episode)
        apply(to: &world, using: &generator)
        return (episode, world)
    }
}
