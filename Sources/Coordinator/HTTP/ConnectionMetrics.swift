import Prometheus
import SecureTransport

/// The server's connection counts as Prometheus metrics.
///
/// Why straight on the registry: the events come from the TLS layer's
/// ``ConnectionAdmission`` on the event loops, one per connection change; a
/// gauge moved by ±1 per event stays right whatever order the loops report in.
///
/// - `fleet_connections_open`: connections open now (authenticated or not).
/// - `fleet_connections_pending_handshake`: open connections whose TLS handshake has not completed.
/// - `fleet_connections_refused_total{cap}`: new connections closed at once because `cap` was full.
/// - `fleet_connections_evicted_total`: silent (no byte sent) pending connections closed to make room.
enum ConnectionMetrics {
    static func observer(registry: PrometheusCollectorRegistry) -> @Sendable (ConnectionAdmission.Event) -> Void {
        let open = registry.makeGauge(name: "fleet_connections_open", help: "Connections open now")
        let pending = registry.makeGauge(
            name: "fleet_connections_pending_handshake", help: "Open connections whose TLS handshake has not completed"
        )
        let caps = ["connections", "connections_per_address", "pending_handshakes", "pending_handshakes_per_address"]
        var refusedByCap: [String: Counter] = [:]
        for cap in caps {
            refusedByCap[cap] = registry.makeCounter(
                name: "fleet_connections_refused_total", labels: [("cap", cap)], help: "New connections closed at once at a full cap"
            )
        }
        let refused = refusedByCap
        let evicted = registry.makeCounter(
            name: "fleet_connections_evicted_total", help: "Silent pending connections closed to make room for new ones"
        )
        return { event in
            switch event {
            case .opened:
                open.increment()
                pending.increment()
            case .authenticated:
                pending.decrement()
            case .closed(let wasPending):
                open.decrement()
                if wasPending { pending.decrement() }
            case .refused(let cap):
                refused[cap]?.increment()
            case .evicted:
                evicted.increment()
            }
        }
    }
}
