public import Foundation

/// Everything that decides a process fleet: what `fleet-sim --processes`
/// passes on to the `fleet-coordinator` and `fleet-node` command lines.
public struct ProcessFleetConfiguration: Sendable {
    /// Number of nodes, spread over ``regions`` in turn.
    public var nodes: Int
    /// Rounds to wait for.
    public var rounds: Int
    /// Region names (files in `Simulator/regions/`); nil: every region.
    public var regions: [String]?
    /// Seeds the coordinator's participant sampling and each node's driving and learning.
    public var seed: UInt64
    /// Share of the live nodes invited to each round, in (0, 1].
    public var participation: Double
    /// Variations of each capture a node learns from (small, so lessons are quick).
    public var variations: Int
    /// Ordinary-driving episodes per family a lesson replays (0: none).
    public var anchorEpisodes: Int
    /// Captures in one lesson, at most.
    public var maxCaptures: Int
    /// Simulated seconds a node drives per wall-clock second (0: as fast as the CPU allows).
    public var speedup: Double
    /// How the coordinator combines updates: weighted-mean, trimmed-mean or median.
    public var aggregator: String
    /// FedAvg's server learning rate (nil: the coordinator's default).
    public var serverLearningRate: Float?
    /// Share of each changed tensor the model delta keeps (nil: the coordinator's default).
    public var downlinkFraction: Double?
    /// The gate's false-rejection rate and extra interventions per episode it tolerates (nil: the coordinator's defaults).
    public var gateFalseRejectionRate: Double?
    public var interventionTolerance: Double?
    /// Whether the gate also tests every family against the fleet's first version.
    public var boundsDrift: Bool = false
    /// Gold episodes per family the gate drives (nil: the full suite).
    public var gateEpisodesPerFamily: Int?
    /// Gold families the gate drives (empty: every family).
    public var gateFamilies: [String]
    /// Seconds a round may collect before it closes with what it has (or is abandoned with nothing);
    /// default ``defaultRoundDeadline(nodes:)``.
    public var roundDeadline: Double
    /// The longest the fleet may go without a round closing before the run is given up
    /// (default: three round deadlines, ten minutes at least).
    public var patience: Duration
    /// How often the coordinator's API is read while rounds run.
    public var pollInterval: Duration
    /// How long a process may take to stop after SIGTERM before it is killed.
    public var stopGrace: Duration
    /// Where `processes/` (certificates, data directories, logs) goes.
    public var outputDirectory: URL
    /// The `Simulator/` directory.
    public var simulatorContent: URL

    public init(
        nodes: Int = 4, rounds: Int = 3, regions: [String]? = nil, seed: UInt64 = 1, participation: Double = 1,
        variations: Int = 8, anchorEpisodes: Int = 0, maxCaptures: Int = 1, speedup: Double = 0,
        aggregator: String = "weighted-mean", serverLearningRate: Float? = nil,
        gateFalseRejectionRate: Double? = nil, interventionTolerance: Double? = nil,
        gateEpisodesPerFamily: Int? = 4, gateFamilies: [String] = [],
        roundDeadline: Double? = nil, patience: Duration? = nil,
        pollInterval: Duration = .seconds(1), stopGrace: Duration = .seconds(10),
        outputDirectory: URL, simulatorContent: URL
    ) {
        self.nodes = nodes
        self.rounds = rounds
        self.regions = regions
        self.seed = seed
        self.participation = participation
        self.variations = variations
        self.anchorEpisodes = anchorEpisodes
        self.maxCaptures = maxCaptures
        self.speedup = speedup
        self.aggregator = aggregator
        self.serverLearningRate = serverLearningRate
        self.gateFalseRejectionRate = gateFalseRejectionRate
        self.interventionTolerance = interventionTolerance
        self.gateEpisodesPerFamily = gateEpisodesPerFamily
        self.gateFamilies = gateFamilies
        let deadline = roundDeadline ?? Self.defaultRoundDeadline(nodes: nodes)
        self.roundDeadline = deadline
        // A round may take its deadline, then aggregation and the gate: three deadlines, ten minutes at least.
        self.patience = patience ?? .seconds(max(600, 3 * deadline))
        self.pollInterval = pollInterval
        self.stopGrace = stopGrace
        self.outputDirectory = outputDirectory
        self.simulatorContent = simulatorContent
    }

    /// Where the run's certificates, data directories and logs go.
    public var processesDirectory: URL { outputDirectory.appendingPathComponent("processes") }

    /// A minute for each node a core carries: every node's lesson competes for the same
    /// cores with every node's driving, so a bigger fleet on the same machine needs longer.
    public static func defaultRoundDeadline(nodes: Int) -> Double {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return 60 * Double((max(1, nodes) + cores - 1) / cores)
    }

    /// Names the first value that makes no sense.
    public func validate() throws(SimulationError) {
        func fail(_ field: String, _ requirement: String) -> SimulationError {
            SimulationError(.invalidConfiguration, "\(field) \(requirement)")
        }
        guard nodes >= 1 else { throw fail("nodes", "must be at least 1") }
        guard rounds >= 1 else { throw fail("rounds", "must be at least 1") }
        guard participation > 0, participation <= 1 else { throw fail("participation", "must be in (0, 1]") }
        guard variations >= 1 else { throw fail("variations", "must be at least 1") }
        guard anchorEpisodes >= 0 else { throw fail("anchor-episodes", "must not be negative") }
        guard maxCaptures >= 1 else { throw fail("max-captures", "must be at least 1") }
        guard speedup >= 0 else { throw fail("speedup", "must not be negative (0: as fast as the CPU allows)") }
        guard ["weighted-mean", "trimmed-mean", "median"].contains(aggregator) else {
            throw fail("aggregator", "'\(aggregator)' must be weighted-mean, trimmed-mean or median")
        }
        if let gateEpisodesPerFamily, gateEpisodesPerFamily < 1 { throw fail("gate-episodes", "must be at least 1") }
        guard roundDeadline > 0 else { throw fail("round deadline", "must be positive") }
        guard patience > .zero, pollInterval > .zero, stopGrace >= .zero else {
            throw fail("patience, poll interval and stop grace", "must be positive")
        }
        if let regions, regions.isEmpty { throw fail("regions", "must name at least one region") }
    }
}
