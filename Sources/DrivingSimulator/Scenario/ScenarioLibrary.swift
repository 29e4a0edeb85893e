public import Foundation

/// The scenario families of a directory (`Simulator/scenarios/`), loaded and validated.
///
/// Files are read in name order; each family name must be unique. Lookup is
/// by family or by file name, which is what gold entries and captures store.
public struct ScenarioLibrary: Sendable {
    /// Scenarios sorted by family.
    public let scenarios: [Scenario]

    public init(scenarios: [Scenario]) {
        self.scenarios = scenarios.sorted { $0.family < $1.family }
    }

    /// Loads every `*.json` in `directory`.
    public static func load(directory: URL) throws -> ScenarioLibrary {
        let files = try jsonFiles(in: directory)
        var scenarios: [Scenario] = []
        var families: [String: String] = [:]
        for file in files {
            let scenario = try ScenarioParser.load(contentsOf: file)
            if let other = families[scenario.family] {
                throw SimulationError(code: .invalidValue, message: "family '\(scenario.family)' is also defined in \(other)",
                                      file: scenario.file, field: "family")
            }
            families[scenario.family] = scenario.file
            scenarios.append(scenario)
        }
        return ScenarioLibrary(scenarios: scenarios)
    }

    /// The scenario of a family.
    public func scenario(family: String) -> Scenario? {
        scenarios.first { $0.family == family }
    }

    /// The scenario loaded from a file name.
    public func scenario(file: String) -> Scenario? {
        scenarios.first { $0.file == file }
    }

    /// Builds the world of a gold entry or variation, checking it matches a known scenario.
    public func build(_ episode: EpisodeSpec) throws -> (Scenario, World) {
        guard let scenario = scenario(file: episode.scenario) ?? scenario(family: episode.family) else {
            throw SimulationError(code: .unknownReference, message: "no scenario file '\(episode.scenario)' (family '\(episode.family)')",
                                  field: "episodes[\(episode.id)].scenario")
        }
        return (scenario, try ScenarioBuilder.build(scenario, episode: episode))
    }

    static func jsonFiles(in directory: URL) throws -> [URL] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw SimulationError(code: .unreadableFile, message: "cannot list the directory (\(error.localizedDescription))",
                                  file: directory.path)
        }
        return names.filter { $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0) }
    }
}

/// Locations of the simulator content below a repository root.
public struct SimulatorContent: Sendable {
    public let root: URL
    public init(root: URL) { self.root = root }
    public var scenarios: URL { root.appendingPathComponent("scenarios") }
    public var gold: URL { root.appendingPathComponent("gold") }
    public var regions: URL { root.appendingPathComponent("regions") }
    public var rules: URL { root.appendingPathComponent("rules") }
    /// The current gold suite file.
    public var goldSuite: URL { gold.appendingPathComponent(GoldSuite.fileName) }
    /// The default guardrail rules file.
    public var guardrailRules: URL { rules.appendingPathComponent("guardrail.json") }

    /// Finds `Simulator/` from the working directory or one of its parents.
    public static func locate(from start: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> SimulatorContent? {
        var directory = start
        for _ in 0..<8 {
            let candidate = directory.appendingPathComponent("Simulator")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("scenarios").path) {
                return SimulatorContent(root: candidate)
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}
