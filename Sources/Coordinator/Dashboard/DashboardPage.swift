import Foundation
public import FleetWire

/// The coordinator's dashboard at `/`: rounds, versions and why each exists,
/// nodes online, and the gold-suite score over versions — one HTML page with
/// an inline SVG chart, no scripts, readable in any browser.
public struct DashboardPage: Sendable {
    /// What the page shows, gathered by the service.
    public struct Model: Sendable {
        public var now: Double
        public var currentVersion: UInt64
        /// Nodes heard from within the heartbeat timeout, and all known.
        public var nodesOnline: Int
        public var nodesKnown: Int
        /// The nodes heard from most recently (at most ``DashboardPage/nodesShown``), newest first.
        public var recentNodes: [CoordinatorStore.Node]
        public var round: RoundStateMachine.Round?
        public var phase: String
        public var versions: [(record: CoordinatorStore.Version, manifest: ModelManifest?)]
        public var audit: [CoordinatorStore.AuditEntry]

        public init(
            now: Double, currentVersion: UInt64, nodesOnline: Int, nodesKnown: Int, recentNodes: [CoordinatorStore.Node],
            round: RoundStateMachine.Round?, phase: String,
            versions: [(record: CoordinatorStore.Version, manifest: ModelManifest?)], audit: [CoordinatorStore.AuditEntry]
        ) {
            self.now = now
            self.currentVersion = currentVersion
            self.nodesOnline = nodesOnline
            self.nodesKnown = nodesKnown
            self.recentNodes = recentNodes
            self.round = round
            self.phase = phase
            self.versions = versions
            self.audit = audit
        }
    }

    public let model: Model
    /// Nodes listed on the page: a fleet of thousands is summarised by its counts.
    public static let nodesShown = 100
    public init(_ model: Model) { self.model = model }

    public func render() -> String {
        var html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <title>Fleet Learning coordinator</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:0.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
            .promoted,.published{color:#1a7f37}.rejected{color:#b42318}.awaiting_approval{color:#9a6700}
            .cards{display:flex;gap:1rem}.card{border:1px solid #ddd;border-radius:6px;padding:0.6rem 1rem}.card b{font-size:1.4rem;display:block}
            </style></head><body>
            <h1>Fleet Learning coordinator</h1>
            <div class="cards">
            <div class="card">current version<b>\(model.currentVersion)</b></div>
            <div class="card">nodes online<b>\(model.nodesOnline) / \(model.nodesKnown)</b></div>
            <div class="card">round<b>\(model.round.map { "\($0.number) · \(model.phase)" } ?? "none")</b></div>
            <div class="card">updates this round<b>\(model.round.map { "\($0.acceptedCount) / \($0.invitedCount.map(String.init) ?? "any")" } ?? "–")</b></div>
            </div>
            """
        html += "<h2>Gold-suite score over versions</h2>" + scoreChart().svg()
        html += "<h2>Versions</h2><table><tr><th>version</th><th>status</th><th>round</th><th>contributors</th><th>families</th><th>gold score</th><th>why</th></tr>"
        for (record, manifest) in model.versions {
            let gate = manifest?.gate
            let score = gate.map { String(format: "%.1f → %.1f", $0.currentScore, $0.candidateScore) } ?? "–"
            let why = gate.map { $0.reasons.isEmpty ? "no family regressed" : $0.reasons.joined(separator: "; ") } ?? (manifest?.notes ?? "")
            let families = (manifest?.families ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            html += "<tr><td>\(record.version)</td><td class=\"\(record.status.rawValue)\">\(record.status.rawValue)</td>"
            html += "<td>\(manifest?.round.map(String.init) ?? "–")</td><td>\(manifest?.contributors.count ?? 0)</td>"
            html += "<td>\(HTML.escape(families))</td><td>\(score)</td><td>\(HTML.escape(why))</td></tr>"
        }
        let shown = model.recentNodes.count < model.nodesKnown ? " (the \(model.recentNodes.count) heard from most recently)" : ""
        html += "</table><h2>Nodes\(shown)</h2><table><tr><th>node</th><th>region</th><th>model</th><th>last seen</th></tr>"
        for node in model.recentNodes {
            let ago = Int(model.now - node.lastSeen)
            html += "<tr><td>\(HTML.escape(node.id))</td><td>\(HTML.escape(node.region ?? "–"))</td>"
            html += "<td>\(node.modelVersion.map(String.init) ?? "–")</td><td>\(ago) s ago</td></tr>"
        }
        html += "</table><h2>Audit trail</h2><table><tr><th>kind</th><th>subject</th><th>detail</th></tr>"
        for entry in model.audit {
            html += "<tr><td>\(HTML.escape(entry.kind))</td><td>\(HTML.escape(entry.subject))</td><td>\(HTML.escape(entry.detail))</td></tr>"
        }
        return html + "</table></body></html>\n"
    }

    /// Gold-suite score of every gated candidate, promoted or not.
    func scoreChart() -> LineChart {
        let gated = model.versions.compactMap { entry -> (version: Double, score: Double, promoted: Bool)? in
            guard let gate = entry.manifest?.gate else { return nil }
            return (Double(entry.record.version), gate.candidateScore, entry.record.status == .published)
        }.sorted { $0.version < $1.version }
        return LineChart(
            title: "gold-suite score (0–100)",
            xLabel: "version",
            yLabel: "score",
            series: [
                .init(name: "published", color: "#1a7f37", points: gated.filter(\.promoted).map { ($0.version, $0.score) }),
                .init(name: "rejected", color: "#b42318", points: gated.filter { !$0.promoted }.map { ($0.version, $0.score) }),
            ],
            yRange: 0...100
        )
    }
}
