public import Metrics

/// The coordinator's metrics, through swift-metrics.
///
/// Why a value built from a factory: the executable bootstraps the global
/// metrics system with a Prometheus factory once; tests hand each service its
/// own factory and registry, so parallel tests never share counters. Labels
/// follow Prometheus naming (`fleet_…`, base units, `_total` for counters).
public struct CoordinatorMetrics: Sendable {
    let factory: any MetricsFactory
    let roundsOpened: Counter
    let updatesAccepted: Counter
    let bytesReceived: Counter
    let aggregationSeconds: Timer
    let gateSeconds: Timer
    let nodesOnline: Gauge
    let currentVersion: Gauge

    /// Metrics made by `factory` (by default the bootstrapped global one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        roundsOpened = Counter(label: "fleet_rounds_opened_total", factory: factory)
        updatesAccepted = Counter(label: "fleet_updates_accepted_total", factory: factory)
        bytesReceived = Counter(label: "fleet_update_bytes_received_total", factory: factory)
        aggregationSeconds = Timer(label: "fleet_aggregation_duration_seconds", factory: factory)
        gateSeconds = Timer(label: "fleet_gate_duration_seconds", factory: factory)
        nodesOnline = Gauge(label: "fleet_nodes_online", factory: factory)
        currentVersion = Gauge(label: "fleet_current_model_version", factory: factory)
    }

    /// A round ended: `outcome` is published, rejected, awaiting_approval or abandoned.
    func roundFinished(_ outcome: String) {
        Counter(label: "fleet_rounds_finished_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    /// An update was refused, with the error code as the reason.
    func updateRejected(_ reason: String) {
        Counter(label: "fleet_updates_rejected_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// The gate decided: promoted, rejected or awaiting_approval.
    func gateVerdict(_ verdict: String) {
        Counter(label: "fleet_gate_verdicts_total", dimensions: [("verdict", verdict)], factory: factory).increment()
    }
}
