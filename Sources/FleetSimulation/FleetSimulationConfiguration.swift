public import Aggregation
public import Coordinator
public import EdgeLearning
public import Foundation
import DrivingSimulator

/// Everything that decides a fleet simulation, as one value (filled by
/// `fleet-sim`'s flags, or in code by tests).
public struct FleetSimulationConfiguration: Sendable {
    /// How nodes reach the coordinator.
    public enum Transport: String, Sendable, CaseIterable {
        /// Mutual TLS on 127.0.0.1 through the coordinator's HTTPS server, as in production.
        case tls
        /// Calls into the coordinator in the same process: for fleets of thousands.
        case inMemory = "in-memory"
    }

    /// Number of nodes, spread over ``regions`` in turn.
    public var nodes: Int
    /// Rounds to run.
    public var rounds: Int
    /// Region names (files in `Simulator/regions/`); nil: every region.
    public var regions: [String]?
    /// Seed of everything random: nodes' drives, learning, sampling.
    public var seed: UInt64
    public var transport: Transport
    /// How the coordinator combines updates.
    public var aggregation: AggregationConfiguration
    /// How the combined update is applied (FedAvg's server learning rate, FedAdam, FedYogi).
    public var serverOptimizer: ServerOptimizer.Kind
    /// When the gate promotes a candidate.
    public var gate: RegressionGate.Configuration
    /// Share of the delta's values a node keeps (top-k), in (0, 1].
    public var compression: Double
    /// How much of each round's step the model delta nodes download keeps
    /// (the rest is carried to the next version, see ``StepCompressor``).
    ///
    /// Every changed entry by default (int8): a round's step here is the
    /// mean of a few sparse lessons, so sending all of it costs little more
    /// than a tenth of it (about 12 KB a node a round against 10), and no
    /// residual is left over. A residual is learning the gate never judged:
    /// carried into every later candidate, one that breaks a family gets
    /// every later round rejected until a round happens to cancel it.
    public var downlink = FleetSimulationConfiguration.defaultDownlink
    public static let defaultDownlink = StepCompressor.Configuration(fraction: 1, quantize: true)
    /// Asynchronous (buffered) rounds instead of synchronous ones.
    public var asynchronous: Bool
    /// Share of the live nodes the coordinator invites to each round (sampled by seed).
    public var participation: Double
    /// Share of nodes that send poisoned updates (scaled ×100, sign-flipped).
    public var poisonedShare: Double
    /// Episodes each node drives per round (each may yield captures).
    public var episodesPerRound: Int
    /// Variations of each capture a node learns from.
    public var variations: Int
    /// Where a variation starts: the capture's snapshot, or the start of its episode.
    public var variationSource: VariationSynthesizer.Source
    /// How far an episode variation moves each scenario parameter, as a share of its range.
    public var variationSpread: Double = 0.15
    /// Captures in one lesson, at most.
    public var maxCaptures: Int
    /// How a lesson trains: passes over its labelled states, step size, experts.
    public var lesson: LessonSettings
    /// Seconds before a trigger that a capture's scene is taken (up to about 5).
    public var captureLead: Double
    /// Ordinary-driving episodes per family a lesson replays (the anchor
    /// that keeps what the model already does well); 0: no replay.
    public var anchorEpisodes: Int
    /// Who labels the anchor's states: the teacher (the replay teaches too) or the model itself (it only holds).
    public var anchorLabels: OrdinaryDriving.AnchorLabels
    /// Difficulty of the anchor's episodes (0 easy … 1 hard); nil: each
    /// family's own, the one its gold episodes are drawn at — so the replay
    /// holds what the model learned in the hard scenes too.
    public var anchorDifficulty: Double?
    /// Fresh episodes per family (at the gold suite's difficulty, never its
    /// episodes) each node drives its lesson through before sending it,
    /// judged by the gate's rules (see ``LessonCheck``); 0: no check.
    public var lessonCheckEpisodes: Int
    /// Collision-free points a lesson must gain over all of a node's check
    /// episodes before the node sends it (nil: no such rule).
    public var lessonCheckMinimumGain: Double?
    /// Gold episodes per family the gate drives (nil: the full suite).
    public var gateEpisodesPerFamily: Int?
    /// Also run the baselines: local-only twins (one per region, never
    /// sharing), the centralized baseline (every capture the fleet took,
    /// learned centrally, see ``CentralizedBaseline``) and the upper bound,
    /// compared with the fleet on the whole gold suite.
    public var baselines: Bool
    /// Episodes per family of the upper bound's DAgger run (with `baselines`).
    public var upperBoundEpisodesPerFamily: Int = 120
    /// Ordinary-driving episodes per family in the centralized baseline's data
    /// (with `baselines`; the base policy's recipe has 40), beside every capture's variations.
    public var centralizedOrdinaryEpisodesPerFamily: Int = 40
    /// Gold episodes per family of the comparison after the last round (nil: the whole suite).
    public var comparisonEpisodesPerFamily: Int?
    /// The model the fleet starts from (nil: the committed base policy in `Simulator/models/`).
    public var seedModel: URL?
    /// Where the report, the final model and the round log go.
    public var outputDirectory: URL
    /// The `Simulator/` directory.
    public var simulatorContent: URL

    public init(
        nodes: Int = 24, rounds: Int = 10, regions: [String]? = nil, seed: UInt64 = 1,
        transport: Transport = .tls, aggregation: AggregationConfiguration = AggregationConfiguration(),
        serverOptimizer: ServerOptimizer.Kind = .fedAvg, gate: RegressionGate.Configuration = .init(),
        compression: Double = 0.2, asynchronous: Bool = false, participation: Double = 1, poisonedShare: Double = 0,
        episodesPerRound: Int = 2, variations: Int = 24, variationSource: VariationSynthesizer.Source = .episode, maxCaptures: Int = 1, lesson: LessonSettings = LessonSettings(), captureLead: Double = 2, anchorEpisodes: Int = 10, anchorLabels: OrdinaryDriving.AnchorLabels = .policy, anchorDifficulty: Double? = 0.5,
        lessonCheckEpisodes: Int = 0, gateEpisodesPerFamily: Int? = 4, baselines: Bool = false, comparisonEpisodesPerFamily: Int? = nil,
        outputDirectory: URL, simulatorContent: URL
    ) {
        self.nodes = nodes
        self.rounds = rounds
        self.regions = regions
        self.seed = seed
        self.transport = transport
        self.aggregation = aggregation
        self.serverOptimizer = serverOptimizer
        self.gate = gate
        self.compression = compression
        self.asynchronous = asynchronous
        self.participation = participation
        self.poisonedShare = poisonedShare
        self.episodesPerRound = episodesPerRound
        self.variations = variations
        self.variationSource = variationSource
        self.maxCaptures = maxCaptures
        self.lesson = lesson
        self.anchorEpisodes = anchorEpisodes
        self.anchorLabels = anchorLabels
        self.anchorDifficulty = anchorDifficulty
        self.captureLead = captureLead
        self.lessonCheckEpisodes = lessonCheckEpisodes
        self.gateEpisodesPerFamily = gateEpisodesPerFamily
        self.baselines = baselines
        self.comparisonEpisodesPerFamily = comparisonEpisodesPerFamily
        self.outputDirectory = outputDirectory
        self.simulatorContent = simulatorContent
    }

    /// The learner of node `node`'s lesson in round `round` (seeded by both).
    func lessonLearner(node: Int, round: Int) -> EdgeLearner.Configuration {
        lesson.learner(
            variations: variations, source: variationSource, spread: variationSpread, compression: compression,
            seed: DrivingSimulator.SeededGenerator.mix(seed, DrivingSimulator.SeededGenerator.mix(UInt64(bitPattern: Int64(node)), UInt64(round))))
    }

    /// Names the first value that makes no sense.
    public func validate() throws(SimulationError) {
        func fail(_ field: String, _ requirement: String) -> SimulationError {
            SimulationError("\(field) \(requirement)")
        }
        guard nodes >= 1 else { throw fail("nodes", "must be at least 1") }
        guard rounds >= 1 else { throw fail("rounds", "must be at least 1") }
        guard compression > 0, compression <= 1 else { throw fail("compression", "must be in (0, 1]") }
        guard downlink.fraction > 0, downlink.fraction <= 1 else { throw fail("downlink-fraction", "must be in (0, 1]") }
        guard participation > 0, participation <= 1 else { throw fail("participation", "must be in (0, 1]") }
        guard poisonedShare >= 0, poisonedShare < 1 else { throw fail("poisoned", "must be in [0, 1)") }
        guard episodesPerRound >= 1 else { throw fail("episodes-per-round", "must be at least 1") }
        guard variations >= 1 else { throw fail("variations", "must be at least 1") }
        guard variationSpread > 0, variationSpread <= 1 else { throw fail("variation-spread", "must be in (0, 1]") }
        guard maxCaptures >= 1 else { throw fail("max-captures", "must be at least 1") }
        guard lesson.epochs >= 1 else { throw fail("lesson-epochs", "must be at least 1") }
        guard lesson.learningRate > 0, lesson.learningRate.isFinite else { throw fail("lesson-learning-rate", "must be positive") }
        guard lesson.experts >= 1 else { throw fail("lesson-experts", "must be at least 1") }
        guard (0..<1).contains(lesson.replay) else { throw fail("lesson-replay", "must be in [0, 1)") }
        guard captureLead >= 0, captureLead <= 5 else { throw fail("capture-lead", "must be in [0, 5] seconds") }
        guard lessonCheckEpisodes >= 0 else { throw fail("lesson-check-episodes", "must not be negative") }
        if let lessonCheckMinimumGain, !lessonCheckMinimumGain.isFinite { throw fail("lesson-check-minimum-gain", "must be a finite number") }
        guard anchorEpisodes >= 0 else { throw fail("anchor-episodes", "must not be negative") }
        if let anchorDifficulty, !(0...1).contains(anchorDifficulty) { throw fail("anchor-difficulty", "must be in [0, 1]") }
        if let gateEpisodesPerFamily, gateEpisodesPerFamily < 1 { throw fail("gate-episodes", "must be at least 1") }
        if let comparisonEpisodesPerFamily, comparisonEpisodesPerFamily < 1 { throw fail("comparison-episodes", "must be at least 1") }
        guard upperBoundEpisodesPerFamily >= 1 else { throw fail("upper-bound-episodes", "must be at least 1") }
        if let regions, regions.isEmpty { throw fail("regions", "must name at least one region") }
    }
}

/// How a node's lesson trains, in the simulation: one attempt (no widening
/// ladder, no shortened step — the gate is the check), cheap enough that a
/// whole fleet learns on two cores.
public struct LessonSettings: Sendable, Equatable {
    /// Passes over the labelled states per DAgger iteration.
    public var epochs: Int
    public var learningRate: Float
    /// Most experts the lesson trains (the family's most-routed first).
    public var experts: Int
    /// Share of every batch replayed from the anchor (ordinary driving).
    public var replay: Double
    /// DAgger iterations (label, then refit).
    public var iterations: Int

    public init(epochs: Int = 4, learningRate: Float = 1e-3, experts: Int = 2, replay: Double = 0.5, iterations: Int = 2) {
        self.epochs = epochs
        self.learningRate = learningRate
        self.experts = experts
        self.replay = replay
        self.iterations = iterations
    }

    /// The edge learner's configuration for a lesson with these settings.
    public func learner(
        variations: Int, source: VariationSynthesizer.Source, spread: Double, compression: Double, seed: UInt64
    ) -> EdgeLearner.Configuration {
        var adaptation = ExpertAdapter.Configuration(maxExperts: experts)
        adaptation.fitting.epochs = epochs
        adaptation.fitting.learningRate = learningRate
        adaptation.fitting.replayRatio = replay
        adaptation.fitting.pullTowardsReference = 0
        return EdgeLearner.Configuration(
            synthesis: .init(count: variations, source: source, episodeSpread: spread), labelling: .init(iterations: iterations, concurrency: 1),
            adaptation: adaptation, compression: .init(fraction: compression), shrinkFactors: [], shortestStepKeeping: nil,
            widenUntil: nil, seed: seed)
    }
}
