/// Something the agent did, for whoever watches it (tests, the fleet simulation, logs).
///
/// Why a stream of events: callers wait for "a capture was stored" or "the
/// upload was accepted" as it happens, instead of sleeping and polling state.
public enum AgentEvent: Sendable, Equatable {
    /// An episode (simulated) finished, with the captures it stored.
    case episodeFinished(captures: Int)
    /// A frame of the real vehicle's feed was processed, with the captures it stored.
    case frameProcessed(captures: Int)
    /// A line of the feed was rejected (the error says why).
    case observationRejected(line: Int, message: String)
    /// The feed ended.
    case feedEnded
    /// A verified model now drives.
    case modelInstalled(version: UInt64)
    /// A downloaded model failed verification and was discarded.
    case modelRejected(version: UInt64?, message: String)
    /// A verified download was refused: not the version asked for, or older than the node's floor.
    case modelRefused(version: UInt64, requested: UInt64, floor: UInt64)
    /// A training base older than the installed version was fetched and verified; it is learned on, never installed.
    case trainingBaseFetched(version: UInt64)
    /// The coordinator's freshness statement was refused (the message says why).
    case freshnessRefused(message: String)
    /// No valid freshness statement for longer than the last one's validity: the coordinator may be frozen.
    case coordinatorStale(lastIssuedAt: Double?)
    /// A valid freshness statement arrived again after the coordinator was stale.
    case coordinatorFresh(version: UInt64)
    /// A heartbeat was acknowledged.
    case heartbeatAcknowledged(currentVersion: UInt64)
    /// A task arrived.
    case taskReceived(round: UInt64, baseVersion: UInt64)
    /// Adaptation began on `captures` captures.
    case adaptationStarted(round: UInt64, captures: Int)
    /// Adaptation ended; `delta` tells whether there is something to send.
    case adaptationFinished(round: UInt64, delta: Bool)
    /// The coordinator took the update.
    case uploadAccepted(round: UInt64, captures: Int)
    /// The coordinator refused the update for good.
    case uploadRefused(round: UInt64, status: Int, code: String)
    /// A request could not reach the coordinator; the same step is retried after `retryIn` seconds.
    case transportFailed(message: String, retryIn: Double)
}
