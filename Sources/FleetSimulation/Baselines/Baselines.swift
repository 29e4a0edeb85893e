import Coordinator
import DrivingSimulator
import EdgeLearning
import EdgeNode
import FleetEvaluation
import PolicyNetwork

/// The baselines a run can carry beside the fleet (`--baselines`): local-only
/// twins, one per region; the centralized baseline, trained on every capture
/// the fleet took; and the upper bound, trained on every family at gold difficulty.
struct Baselines: Sendable {
    var twins: [LocalOnlyTwin]
    var centralized = CentralizedBaseline()

    /// Twins of the first node of each region.
    init(
        nodes: [SimulatedFleetNode], regions: [Region], library: ScenarioLibrary, guardrail: Guardrail,
        settings: FleetSimulationConfiguration, base: MoEPolicy
    ) {
        twins = regions.compactMap { region in
            guard let index = nodes.firstIndex(where: { $0.region == region.name }) else { return nil }
            return LocalOnlyTwin(
                id: "local-\(nodes[index].id)", region: region.name, mirrors: index,
                vehicle: SimulatedVehicle(
                    region: region, library: library, guardrail: guardrail,
                    seed: DrivingSimulator.SeededGenerator.mix(settings.seed, UInt64(index)), captureLead: settings.captureLead),
                policy: base, compressor: DeltaCompressor(configuration: .init(fraction: settings.compression)))
        }
    }

    /// The twins drive the round's episodes, as the fleet's nodes do.
    mutating func drive(settings: FleetSimulationConfiguration) throws {
        for index in twins.indices {
            _ = try twins[index].drive(episodes: settings.episodesPerRound, keep: max(4, 2 * settings.maxCaptures))
        }
    }

    /// Each twin learns from its own captures.
    mutating func learn(settings: FleetSimulationConfiguration, library: ScenarioLibrary, guardrail: Guardrail, round: Int) async throws {
        for index in twins.indices {
            try await twins[index].learn(settings: settings, library: library, guardrail: guardrail, round: round)
        }
    }

    /// Trains the centralized baseline and the upper bound, and drives every baseline through the gold suite.
    func compare(
        into comparison: inout GoldComparison, architecture: PolicyArchitecture, library: ScenarioLibrary,
        settings: FleetSimulationConfiguration, gate: RegressionGate
    ) async throws {
        for twin in twins {
            comparison.localOnly[twin.region] = GoldResult(try await gate.evaluate(twin.policy, name: twin.id))
        }
        let trained = try await centralized.train(architecture: architecture, library: library, rules: gate.guardrail, settings: settings)
        comparison.centralized = GoldResult(try await gate.evaluate(trained.policy, name: "centralized"))
        comparison.centralizedCaptures = centralized.captures.count
        comparison.centralizedEpisodes = trained.episodes
        var recipe = BasePolicyTrainer.Configuration.upperBound(episodesPerFamily: settings.upperBoundEpisodesPerFamily)
        recipe.architecture = architecture
        recipe.rules = gate.guardrail
        let (upperBound, _) = try await BasePolicyTrainer(configuration: recipe).train(library: library)
        comparison.upperBound = GoldResult(try await gate.evaluate(upperBound, name: "upper-bound"))
    }
}

extension GoldResult {
    init(_ report: EvaluationReport) {
        self.init(
            score: report.overall.collisionFreePercent,
            collisionRate: Dictionary(uniqueKeysWithValues: report.families.map { ($0.family, $0.collisionRate) }))
    }
}
