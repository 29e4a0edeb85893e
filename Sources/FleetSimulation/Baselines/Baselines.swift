import Coordinator
import DrivingSimulator
import EdgeLearning
import EdgeNode
import FleetEvaluation
import PolicyNetwork

/// The two baselines a run can carry beside the fleet (`--baselines`):
/// local-only twins, one per region, and a centralized trainer fed the
/// captures of every lesson the fleet learned.
struct Baselines: Sendable {
    var twins: [LocalOnlyTwin]
    var centralized: CentralizedTrainer

    /// Twins of the first node of each region, and a trainer with the fleet's gate.
    init(
        nodes: [SimulatedFleetNode], regions: [Region], library: ScenarioLibrary, guardrail: Guardrail,
        settings: FleetSimulationConfiguration, base: MoEPolicy, gate: RegressionGate
    ) async throws {
        twins = regions.compactMap { region in
            guard let index = nodes.firstIndex(where: { $0.region == region.name }) else { return nil }
            return LocalOnlyTwin(
                id: "local-\(nodes[index].id)", region: region.name, mirrors: index,
                vehicle: SimulatedVehicle(
                    region: region, library: library, guardrail: guardrail,
                    seed: DrivingSimulator.SeededGenerator.mix(settings.seed, UInt64(index)), captureLead: settings.captureLead),
                policy: base, compressor: DeltaCompressor(configuration: .init(fraction: settings.compression)))
        }
        centralized = try await CentralizedTrainer(base: base, gate: gate)
    }

    /// The twins drive the round's episodes, as the fleet's nodes do.
    mutating func drive(settings: FleetSimulationConfiguration) throws {
        for index in twins.indices {
            _ = try twins[index].drive(episodes: settings.episodesPerRound, keep: max(4, 2 * settings.maxCaptures))
        }
    }

    /// Each twin learns from its own captures; the trainer from `pooled`, the captures the fleet's lessons used.
    mutating func learn(
        pooled: [Capture], settings: FleetSimulationConfiguration, library: ScenarioLibrary, guardrail: Guardrail, round: Int
    ) async throws {
        for index in twins.indices {
            try await twins[index].learn(settings: settings, library: library, guardrail: guardrail, round: round)
        }
        try await centralized.learn(captures: pooled, settings: settings, library: library, round: round)
    }

    /// Every model on the whole gold suite.
    func evaluate(with gate: RegressionGate) async throws -> (centralized: GoldResult, localOnly: [String: GoldResult]) {
        var localOnly: [String: GoldResult] = [:]
        for twin in twins {
            localOnly[twin.region] = GoldResult(try await gate.evaluate(twin.policy, name: twin.id))
        }
        return (GoldResult(try await gate.evaluate(centralized.policy, name: "centralized")), localOnly)
    }
}

extension GoldResult {
    init(_ report: EvaluationReport) {
        self.init(
            score: report.overall.collisionFreePercent,
            collisionRate: Dictionary(uniqueKeysWithValues: report.families.map { ($0.family, $0.collisionRate) }))
    }
}
