public import Aggregation
public import FleetWire
public import Foundation

/// Everything that decides how a coordinator runs, as one value.
///
/// Why a value: the executable fills it from flags and environment, tests
/// build it in code, and ``validate()`` names the first bad field before
/// anything is opened.
public struct CoordinatorConfiguration: Sendable {
    /// Which gold-suite episodes the gate drives.
    ///
    /// The full suite is the product's check; a subset keeps tests and small
    /// demonstrations fast (every family still counts, with fewer episodes).
    public struct GateSuite: Sendable, Equatable {
        /// At most this many episodes per family (nil: all).
        public var episodesPerFamily: Int?
        /// Only these families (nil: all).
        public var families: [String]?

        public init(episodesPerFamily: Int? = nil, families: [String]? = nil) {
            self.episodesPerFamily = episodesPerFamily
            self.families = families
        }
    }

    /// The directory holding `state.sqlite` and `blobs/`.
    public var dataDirectory: URL
    public var rounds: RoundConfiguration
    public var aggregation: AggregationConfiguration
    public var serverOptimizer: ServerOptimizer.Kind
    /// How much of each round's step the published delta keeps (the rest is
    /// carried into the next round's step); the published version is exactly
    /// its parent plus that delta.
    public var downlink: StepCompressor.Configuration
    public var gate: RegressionGate.Configuration
    public var gateSuite: GateSuite
    /// Bounds on every uploaded delta (compressed and decompressed size, tensors).
    public var deltaLimits: DeltaLimits
    /// Longest long poll for a task, in seconds.
    public var maxTaskWait: Double
    /// Seconds between heartbeats asked of nodes (well under the heartbeat timeout).
    public var heartbeatInterval: Double
    /// Seconds between the service's timer ticks (deadlines are this precise).
    public var tickInterval: Double
    /// Node ids (from their certificates) allowed to approve versions over HTTP.
    public var operators: Set<String>
    /// Seconds a signed freshness statement of the current version stays valid
    /// (``FreshnessStatement``); a node that has seen no valid one for longer reports the coordinator stale.
    public var freshnessValidity: Double

    public init(
        dataDirectory: URL,
        rounds: RoundConfiguration = RoundConfiguration(),
        aggregation: AggregationConfiguration = AggregationConfiguration(),
        serverOptimizer: ServerOptimizer.Kind = .fedAvg,
        downlink: StepCompressor.Configuration = CoordinatorConfiguration.defaultDownlink,
        gate: RegressionGate.Configuration = RegressionGate.Configuration(),
        gateSuite: GateSuite = GateSuite(),
        deltaLimits: DeltaLimits = .default,
        maxTaskWait: Double = 60,
        heartbeatInterval: Double? = nil,
        tickInterval: Double = 1,
        operators: Set<String> = [],
        freshnessValidity: Double = CoordinatorConfiguration.defaultFreshnessValidity
    ) {
        self.dataDirectory = dataDirectory
        self.rounds = rounds
        self.aggregation = aggregation
        self.serverOptimizer = serverOptimizer
        self.downlink = downlink
        self.gate = gate
        self.gateSuite = gateSuite
        self.deltaLimits = deltaLimits
        self.maxTaskWait = maxTaskWait
        self.heartbeatInterval = heartbeatInterval ?? min(10, rounds.heartbeatTimeout / 3)
        self.tickInterval = tickInterval
        self.operators = operators
        self.freshnessValidity = freshnessValidity
    }

    /// A freshness statement's validity unless told otherwise: 24 hours, as TUF's timestamp role suggests for a day's tolerance.
    public static let defaultFreshnessValidity: Double = 86_400

    /// The downlink every coordinator uses unless told otherwise (see ``StepCompressor/Configuration``).
    public static let defaultDownlink = StepCompressor.Configuration()

    /// Checks the values make sense together, naming the field that does not.
    public func validate() throws(CoordinatorError) {
        try rounds.validate()
        do {
            try aggregation.validate()
        } catch {
            throw CoordinatorError(.invalidConfiguration, "aggregation.\(error.message)")
        }
        do {
            try downlink.validate()
        } catch {
            throw CoordinatorError(.invalidConfiguration, error.message)
        }
        func fail(_ field: String, _ requirement: String) -> CoordinatorError {
            CoordinatorError(.invalidConfiguration, "\(field) \(requirement)")
        }
        guard gate.falseRejectionRate >= 0, gate.falseRejectionRate <= 1 else {
            throw fail("gate.falseRejectionRate", "must be in [0, 1]")
        }
        guard gate.interventionTolerance >= 0 else { throw fail("gate.interventionTolerance", "must be ≥ 0") }
        if let count = gateSuite.episodesPerFamily, count < 1 { throw fail("gateSuite.episodesPerFamily", "must be ≥ 1") }
        guard maxTaskWait >= 0, maxTaskWait <= 60 else { throw fail("maxTaskWait", "must be in [0, 60] seconds") }
        guard heartbeatInterval > 0, heartbeatInterval < rounds.heartbeatTimeout else {
            throw fail("heartbeatInterval", "must be positive and below rounds.heartbeatTimeout")
        }
        guard tickInterval > 0 else { throw fail("tickInterval", "must be positive") }
        guard freshnessValidity >= 60, freshnessValidity.isFinite else {
            throw fail("freshnessValidity", "must be at least 60 seconds (nodes allow a few minutes of clock skew)")
        }
        guard deltaLimits.maxCompressedBytes > 0, deltaLimits.maxDecompressedBytes > 0 else {
            throw fail("deltaLimits", "sizes must be positive")
        }
    }
}
