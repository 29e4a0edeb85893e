import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import PolicyNetwork

/// The honest centralized baseline: everything the fleet's cars captured,
/// gathered in one place and learned by one trainer.
///
/// After the last round it trains the fleet's network from scratch by DAgger
/// (labels keeping to the fleet's rules) on the base policy's ordinary
/// driving plus the variations of every capture any node took during the run
/// — the same synthesis a node's lesson uses, as many variations per capture,
/// but every capture, not only those the lessons got to, and with nothing
/// compressed, averaged or gated in between. It is what the same data would
/// teach the same network without federation; the upper bound
/// (``BasePolicyTrainer/Configuration/upperBound(episodesPerFamily:)``) is
/// what all the data the network wants would.
struct CentralizedBaseline: Sendable {
    /// Every capture the fleet's nodes kept, in the order taken.
    var captures: [Capture] = []

    mutating func record(_ taken: [Capture]) {
        captures += taken
    }

    /// Trains the baseline; returns it with the number of episodes it learned from.
    func train(
        architecture: PolicyArchitecture, library: ScenarioLibrary, rules: Guardrail, settings: FleetSimulationConfiguration
    ) async throws -> (policy: MoEPolicy, episodes: Int) {
        // The base policy's recipe (its ordinary driving, DAgger, fitting), with the fleet's rules on the labels.
        var recipe = BasePolicyTrainer.Configuration()
        recipe.architecture = architecture
        recipe.rules = rules
        recipe.driving.episodesPerFamily = settings.centralizedOrdinaryEpisodesPerFamily
        var items = try recipe.driving.items(library: library)
        let synthesis = settings.lessonLearner(node: 0, round: 0).synthesis
        let synthesizer = VariationSynthesizer(configuration: synthesis, scenarios: library)
        for capture in captures {
            items += try synthesizer.items(for: capture)
        }
        let (policy, _) = try await BasePolicyTrainer(configuration: recipe).train(items: items)
        return (policy, items.count)
    }
}
