import DrivingSimulator
import FleetWire
import Logging

/// What the drive loop and the sync loop share: the configuration, the live
/// policy, the spool, the connection and the loaded simulator content.
///
/// Everything here is immutable or synchronized itself, so both loops hold
/// the same context without further locking.
struct AgentContext: Sendable {
    let configuration: EdgeNodeConfiguration
    let live: LivePolicy
    let spool: SharedSpool
    let connection: any CoordinatorConnection
    let verifier: ModelVerifier
    let store: ModelStore
    let library: ScenarioLibrary
    let guardrail: Guardrail?
    let vehicle: SimulatedVehicle?
    let logger: Logger
    let metrics: AgentMetrics
    let events: AsyncStream<AgentEvent>.Continuation
    /// The highest version ever installed, as stored when the agent started.
    let floor: UInt64
    /// The newest freshness statement accepted before the agent started (signature verified again).
    let freshness: FreshnessStatement?
    /// Seconds since 1970: the time freshness statements are checked against (injected by tests).
    let wallClock: @Sendable () -> Double

    func emit(_ event: AgentEvent) { events.yield(event) }

    /// The region reported in heartbeats.
    var regionName: String? {
        if case .simulated(let region) = configuration.source { return region }
        return nil
    }
}
