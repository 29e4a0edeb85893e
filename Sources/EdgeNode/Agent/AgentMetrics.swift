import CoreMetrics

/// The node's counters and gauges (swift-metrics; the executable exports them in the Prometheus format).
///
/// Names follow Prometheus conventions (`_total` for counters), all under `fleet_node_`.
struct AgentMetrics: Sendable {
    let episodes = Counter(label: "fleet_node_episodes_total")
    let frames = Counter(label: "fleet_node_frames_total")
    let framesRejected = Counter(label: "fleet_node_observation_lines_rejected_total")
    let captures = Counter(label: "fleet_node_captures_total")
    let captureFailures = Counter(label: "fleet_node_capture_write_failures_total")
    let interventions = Counter(label: "fleet_node_guardrail_interventions_total")
    let modelsInstalled = Counter(label: "fleet_node_models_installed_total")
    let modelsRejected = Counter(label: "fleet_node_models_rejected_total")
    let adaptations = Counter(label: "fleet_node_adaptations_total")
    let uploadsAccepted = Counter(label: "fleet_node_uploads_total", dimensions: [("outcome", "accepted")])
    let uploadsRefused = Counter(label: "fleet_node_uploads_total", dimensions: [("outcome", "refused")])
    let transportFailures = Counter(label: "fleet_node_transport_failures_total")
    let heartbeats = Counter(label: "fleet_node_heartbeats_total")
    /// Verified downloads refused because they were not the version asked for or older than the floor.
    let modelsRefused = Counter(label: "fleet_node_models_refused_total")
    let freshnessRefused = Counter(label: "fleet_node_freshness_refused_total")
    /// 1 while the node has no valid freshness statement (the coordinator may be frozen), else 0.
    let coordinatorStale = Gauge(label: "fleet_node_coordinator_stale")
    /// The highest version ever installed: nothing below it is installed again.
    let versionFloor = Gauge(label: "fleet_node_version_floor")
    let modelVersion = Gauge(label: "fleet_node_model_version")
    let spoolCaptures = Gauge(label: "fleet_node_spool_captures")
}
