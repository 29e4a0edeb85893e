import Foundation
public import DrivingSimulator

extension RegressionGate {
    /// The gate over the gold suite of `content`, cut to `selection`.
    ///
    /// The same episodes are used for the current model and every candidate,
    /// so a subset still compares like with like.
    public static func make(
        content: SimulatorContent, configuration: Configuration, selection: CoordinatorConfiguration.GateSuite
    ) throws(CoordinatorError) -> RegressionGate {
        do {
            let library = try ScenarioLibrary.load(directory: content.scenarios)
            let full = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
            var perFamily: [String: Int] = [:]
            let episodes = full.episodes.filter { episode in
                if let families = selection.families, !families.contains(episode.family) { return false }
                perFamily[episode.family, default: 0] += 1
                return perFamily[episode.family]! <= (selection.episodesPerFamily ?? .max)
            }
            guard !episodes.isEmpty else {
                throw CoordinatorError(.invalidConfiguration, "gateSuite selects no gold episode (families \(selection.families ?? []))")
            }
            let subset = selection == .init() ? "" : " (subset: \(episodes.count) of \(full.episodes.count) episodes)"
            return RegressionGate(
                configuration: configuration,
                suite: GoldSuite(version: full.version, description: full.description + subset, episodes: episodes),
                suiteName: "gold-v\(full.version)\(subset)", library: library,
                guardrail: try Guardrail.load(contentsOf: content.guardrailRules)
            )
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError(.invalidConfiguration, "cannot load the gold suite from \(content.root.path): \(error)")
        }
    }
}
