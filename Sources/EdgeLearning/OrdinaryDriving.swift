public import DrivingSimulator
import FleetEvaluation
public import PolicyNetwork

/// Ordinary driving: scenario episodes drawn away from the gold suite and from held-out sets.
///
/// The base policy learns from it, and a node replays it while adapting (the
/// anchor), so both need episodes of every family that are *not* the gold
/// suite's (those use each scenario's own seed) and not a capture's held-out
/// variations. Episode i of family f uses seed `mix(baseSeed, i)` at the given
/// difficulty (low by default: everyday versions of each family, not its
/// worst case — the edge cases are left for the fleet to learn).
public struct OrdinaryDriving: Sendable, Equatable {
    /// Episodes per family.
    public var episodesPerFamily: Int
    /// The difficulty knob δ for sampling each family's parameters (0 easy … 1 hard);
    /// nil: each scenario's own difficulty, the one its gold episodes are drawn at.
    public var difficulty: Double?
    /// Seeds are `mix(baseSeed, i)`; keep it apart from the scenario files' seeds.
    public var baseSeed: UInt64
    /// The first episode index (anchor and training sets use disjoint ranges).
    public var firstIndex: Int

    public init(episodesPerFamily: Int, difficulty: Double? = 0.2, baseSeed: UInt64 = 0x0BA5_E000_0001, firstIndex: Int = 0) {
        self.episodesPerFamily = episodesPerFamily
        self.difficulty = difficulty
        self.baseSeed = baseSeed
        self.firstIndex = firstIndex
    }

    /// The episodes as ready-to-drive worlds, family by family.
    public func items(library: ScenarioLibrary) throws -> [EvaluationItem] {
        var items: [EvaluationItem] = []
        for scenario in library.scenarios {
            for i in 0..<episodesPerFamily {
                let episode = ScenarioBuilder.episode(
                    scenario, index: firstIndex + i, baseSeed: baseSeed, difficulty: difficulty)
                let world = try ScenarioBuilder.build(scenario, episode: episode)
                items.append(EvaluationItem(
                    id: episode.id, family: episode.family, world: world, duration: scenario.duration,
                    decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1)))
            }
        }
        return items
    }

    /// Who labels the anchor's states.
    public enum AnchorLabels: String, Sendable {
        /// The teacher's action (behaviour cloning targets).
        case teacher
        /// The policy's own action: preserve what it does (learning without forgetting).
        case policy
    }

    /// The anchor a node replays while adapting: states `policy` visits on
    /// ordinary driving (mixed with the teacher at `beta`).
    ///
    /// Labelling the states the shared policy itself visits — not only the
    /// teacher's — anchors the experts exactly where the fleet drives. With
    /// `.policy` labels (the default) the replay says "keep doing what you did
    /// here", which protects the gold suite better than pulling the shared
    /// experts towards the teacher on scenes the lesson is not about.
    public func anchor(
        policy: MoEPolicy, library: ScenarioLibrary, beta: Double = 0.5, labels: AnchorLabels = .policy,
        seed: UInt64 = 0xA4C4_0001, labeller: DAggerLabeller = DAggerLabeller()
    ) async throws -> TrainingSet {
        let pass = try await labeller.label(policy, items: try items(library: library), beta: beta, seed: seed)
        var set = TrainingSet(width: policy.architecture.inputs)
        for samples in pass.samples { set.append(samples) }
        return labels == .policy ? try set.relabelled(by: policy) : set
    }
}
