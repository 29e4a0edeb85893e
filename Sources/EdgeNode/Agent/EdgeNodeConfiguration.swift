public import DrivingSimulator
public import EdgeLearning
public import Foundation

/// Everything one edge node needs to run, as a value with working defaults.
///
/// Why a value: the executable reads flags, a config file and the environment
/// into it in one place, tests build it in code, and ``validate()`` names the
/// first bad field before anything starts.
public struct EdgeNodeConfiguration: Sendable {
    /// Where observations come from.
    public enum Source: Sendable, Equatable {
        /// The built-in simulated vehicle driving in the named region (`Simulator/regions/<name>.json`).
        case simulated(region: String)
        /// JSON lines (``ObservationFrame``) from a file, or from standard input when the path is nil or `-`.
        case jsonLines(path: String?)
    }

    /// This node's id (the `fleet://node/<id>` of its certificate); written into every delta.
    public var nodeID: String
    /// Holds `spool/` (captures) and `models/` (the verified model).
    public var dataDirectory: URL
    public var source: Source
    /// The simulator content root (`Simulator/`): regions, scenarios, rules, the bootstrap policy.
    public var simulatorContent: URL
    /// Seeds the drive, the backoff jitter and the learner.
    public var seed: UInt64
    /// The learning pipeline; `learner.synthesis.count` is the variations per capture.
    public var learner: EdgeLearner.Configuration
    /// Ordinary-driving episodes per family replayed while adapting (0: no replay).
    public var anchorEpisodesPerFamily: Int
    /// Ordinary-driving episodes per family each checkpoint is checked on (0: no check).
    public var validationEpisodesPerFamily: Int
    /// The most captures one lesson learns from (oldest first).
    public var maxCapturesPerLesson: Int
    /// How much the spool keeps (the oldest captures go first past the bound).
    ///
    /// 2,000 captures (about 20 MB) by default: a lesson learns from at most
    /// ``maxCapturesPerLesson`` of them, and learning reads the whole spool.
    public var spoolBounds: CaptureSpool<Capture>.Bounds
    /// Seconds the task long poll waits (≤ 60).
    public var pollWaitSeconds: Int
    /// Seconds between heartbeats until the coordinator names its own interval.
    public var heartbeatInterval: Double
    /// Backoff after a failed request: first ceiling and largest ceiling, seconds.
    public var backoffBase: Double
    public var backoffCap: Double
    /// Backoff after a refused download (an older or unasked-for version, or one failing verification):
    /// first ceiling and largest ceiling, seconds. Each wait is at least half its ceiling, and only an
    /// installed version resets it, so a coordinator answering at once is not asked again in a hot loop.
    public var refusalBackoffBase: Double = 2
    public var refusalBackoffCap: Double = 600
    /// Seconds the node's clock and the coordinator's may disagree when freshness statements are checked.
    public var clockSkewAllowance: Double = 300
    /// Seconds a node that never received a valid freshness statement (an older coordinator, or one
    /// whose answers are stripped) keeps going before it reports the coordinator stale.
    public var freshnessGracePeriod: Double = 86_400
    /// Whether the safety guardrail (`Simulator/rules/guardrail.json`) filters the policy.
    public var guardrail: Bool
    /// Simulated vehicle: whether the teacher watches in shadow mode (disagreement trigger; costs time).
    public var shadowTeacher: Bool
    /// Simulated vehicle: simulated seconds driven per wall-clock second (0: as fast as the CPU allows).
    ///
    /// A real car drives in real time (1); a simulated one may run faster, but
    /// flat out it would take the CPU the learning needs and fill the spool
    /// with near-duplicate captures. 10 by default.
    public var speedup: Double
    /// JSON-lines source: where to write one decision per frame (a path, `-` for standard output, nil for nowhere).
    public var decisionsOutput: String?
    /// Start from the committed base policy (`Simulator/models/`) as version 0 until a signed model is installed.
    public var bootstrapFromBasePolicy: Bool

    public init(
        nodeID: String,
        dataDirectory: URL,
        source: Source = .simulated(region: "highway"),
        simulatorContent: URL,
        seed: UInt64 = 1,
        learner: EdgeLearner.Configuration = EdgeLearner.Configuration(),
        anchorEpisodesPerFamily: Int = 2,
        validationEpisodesPerFamily: Int = 0,
        maxCapturesPerLesson: Int = 8,
        spoolBounds: CaptureSpool<Capture>.Bounds = .init(maxRecords: 2_000, maxBytes: 256 << 20),
        pollWaitSeconds: Int = 30,
        heartbeatInterval: Double = 10,
        backoffBase: Double = 0.5,
        backoffCap: Double = 60,
        guardrail: Bool = true,
        shadowTeacher: Bool = false,
        speedup: Double = 10,
        decisionsOutput: String? = nil,
        bootstrapFromBasePolicy: Bool = true
    ) {
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
        self.source = source
        self.simulatorContent = simulatorContent
        self.seed = seed
        self.learner = learner
        self.anchorEpisodesPerFamily = anchorEpisodesPerFamily
        self.validationEpisodesPerFamily = validationEpisodesPerFamily
        self.maxCapturesPerLesson = maxCapturesPerLesson
        self.spoolBounds = spoolBounds
        self.pollWaitSeconds = pollWaitSeconds
        self.heartbeatInterval = heartbeatInterval
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.guardrail = guardrail
        self.shadowTeacher = shadowTeacher
        self.speedup = speedup
        self.decisionsOutput = decisionsOutput
        self.bootstrapFromBasePolicy = bootstrapFromBasePolicy
    }

    /// Checks every field; the error names the first bad one.
    public func validate() throws(AgentError) {
        func bad(_ field: String, _ message: String) -> AgentError {
            AgentError(.invalidConfiguration, "\(field): \(message)", context: ["field": field])
        }
        guard !nodeID.isEmpty else { throw bad("nodeID", "must not be empty") }
        guard (0...60).contains(pollWaitSeconds) else { throw bad("pollWaitSeconds", "must be 0…60, got \(pollWaitSeconds)") }
        guard heartbeatInterval > 0, heartbeatInterval.isFinite else { throw bad("heartbeatInterval", "must be > 0") }
        guard backoffBase > 0, backoffCap >= backoffBase else { throw bad("backoffBase", "need 0 < backoffBase ≤ backoffCap") }
        guard refusalBackoffBase > 0, refusalBackoffCap >= refusalBackoffBase else {
            throw bad("refusalBackoffBase", "need 0 < refusalBackoffBase ≤ refusalBackoffCap")
        }
        guard clockSkewAllowance >= 0, clockSkewAllowance.isFinite else { throw bad("clockSkewAllowance", "must be ≥ 0") }
        guard freshnessGracePeriod > 0 else { throw bad("freshnessGracePeriod", "must be > 0") }
        guard maxCapturesPerLesson >= 1 else { throw bad("maxCapturesPerLesson", "must be ≥ 1") }
        guard anchorEpisodesPerFamily >= 0 else { throw bad("anchorEpisodesPerFamily", "must be ≥ 0") }
        guard validationEpisodesPerFamily >= 0 else { throw bad("validationEpisodesPerFamily", "must be ≥ 0") }
        guard speedup >= 0, speedup.isFinite else { throw bad("speedup", "must be ≥ 0") }
        guard spoolBounds.maxRecords >= 1, spoolBounds.maxBytes >= 1 else { throw bad("spoolBounds", "must keep at least one capture") }
        if case .simulated(let region) = source, region.isEmpty { throw bad("region", "must name a region") }
        do { try learner.validate() } catch { throw bad("learner", error.message) }
    }
}
