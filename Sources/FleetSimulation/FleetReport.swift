import Coordinator
import Foundation

/// `report.html`: one self-contained page (no scripts, plots as inline SVG)
/// that shows what a simulation did — the gold suite over rounds, per
/// family; bytes on the wire against dense models; where the captures came
/// from; which experts each region's cars use; every version and why the
/// gate promoted or rejected it; and how regions do on families they never
/// met.
public struct FleetReport: Sendable {
    public let summary: SimulationSummary

    public init(_ summary: SimulationSummary) { self.summary = summary }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

    public func html() -> String {
        let families = Set(summary.collisionBefore.keys).union(summary.collisionAfter.keys).sorted()
        var html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <title>Fleet Learning simulation</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:0.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
            td.n,th.n{text-align:right}.better{color:#1a7f37}.worse{color:#b42318}
            .promoted{color:#1a7f37}.rejected{color:#b42318}svg{display:block;margin:0.5rem 0 1.5rem}
            </style></head><body>
            <h1>Fleet Learning simulation</h1>
            <p>\(summary.nodes) nodes in \(summary.regions.count) regions, \(summary.rounds.count) rounds, seed \(summary.seed), transport \(HTML.escape(summary.transport)); \(String(format: "%.0f", summary.seconds)) s.
            Gold suite (collision-free %): <b>\(score(summary.goldBefore)) → \(score(summary.goldAfter))</b>.
            Final version \(summary.finalVersion), checkpoint <code>\(HTML.escape(summary.finalModelHash))</code>.</p>
            """
        html += headline(families)
        html += "<h2>Gold suite over rounds</h2>" + goldChart().svg() + familyChart(families).svg()
        html += "<h2>Bytes on the wire</h2>" + bytesChart().svg() + bytesTable()
        let captures = capturesHeatmap()
        html += "<h2>Captures per region and family</h2>"
            + (captures.rows.isEmpty ? "<p>Not recorded: the nodes ran as processes and keep their captures to themselves.</p>" : captures.svg())
        let experts = expertHeatmap()
        html += "<h2>Expert use per region</h2>"
            + (experts.rows.isEmpty ? "<p>Not recorded: the nodes ran as processes.</p>"
                : "<p>Share of each region's driving decisions whose top expert was each expert.</p>" + experts.svg())
        html += "<h2>Families a region never met</h2>" + transfer(families)
        html += "<h2>Versions</h2>" + versions()
        return html + "</body></html>\n"
    }

    // MARK: Tables

    private func headline(_ families: [String]) -> String {
        guard let gold = summary.gold else { return roundHeadline(families) }
        let twins = gold.localOnly.keys.sorted()
        var html = "<h2>Per family, on the whole gold suite</h2><p>Collision % of each model on every gold episode after the last round"
        html += twins.isEmpty ? ".</p>" : "; local-only is the mean of the twins (one per region, never sharing), and “where unmet” the mean of the twins whose region never meets the family.</p>"
        html += "<table><tr><th>family</th><th class=\"n\">seed model</th><th class=\"n\">federated</th><th class=\"n\">change (points)</th>"
        if gold.centralized != nil { html += "<th class=\"n\">centralized (every capture)</th>" }
        if gold.upperBound != nil { html += "<th class=\"n\">upper bound</th>" }
        if !twins.isEmpty { html += "<th class=\"n\">local-only</th><th class=\"n\">local-only where unmet</th>" }
        html += "</tr>"
        func cell(_ rate: Double?, against seed: Double) -> String {
            guard let rate else { return "<td class=\"n\">–</td>" }
            return "<td class=\"n \(rate < seed ? "better" : rate > seed ? "worse" : "")\">\(String(format: "%.1f", 100 * rate))</td>"
        }
        for family in families {
            let seed = gold.seed.collisionRate[family] ?? 0, federated = gold.federated.collisionRate[family] ?? 0
            html += "<tr><td>\(HTML.escape(family))</td><td class=\"n\">\(String(format: "%.1f", 100 * seed))</td>" + cell(federated, against: seed)
            html += "<td class=\"n\">\(String(format: "%+.1f", 100 * (federated - seed)))</td>"
            if let centralized = gold.centralized { html += cell(centralized.collisionRate[family], against: seed) }
            if let upperBound = gold.upperBound { html += cell(upperBound.collisionRate[family], against: seed) }
            if !twins.isEmpty {
                let unmet = twins.filter { !(summary.regionFamilies[$0] ?? []).contains(family) }
                html += cell(mean(twins.compactMap { gold.localOnly[$0]?.collisionRate[family] }), against: seed)
                html += cell(mean(unmet.compactMap { gold.localOnly[$0]?.collisionRate[family] }), against: seed)
            }
            html += "</tr>"
        }
        html += "<tr><th>gold score (collision-free %)</th><th class=\"n\">\(String(format: "%.1f", gold.seed.score))</th><th class=\"n\">\(String(format: "%.1f", gold.federated.score))</th>"
        html += "<th class=\"n\">\(String(format: "%+.1f", gold.federated.score - gold.seed.score))</th>"
        if let centralized = gold.centralized { html += "<th class=\"n\">\(String(format: "%.1f", centralized.score))</th>" }
        if let upperBound = gold.upperBound { html += "<th class=\"n\">\(String(format: "%.1f", upperBound.score))</th>" }
        if !twins.isEmpty {
            html += "<th class=\"n\">\(score(mean(twins.compactMap { gold.localOnly[$0]?.score })))</th><th></th>"
        }
        html += "</tr></table>"
        if let share = gold.federatedShareOfUpperBound, let upperBound = gold.upperBound {
            html += "<p>The fleet reached <b>\(String(format: "%.0f", 100 * share)) %</b> of the upper bound's gain (\(String(format: "%.1f", gold.seed.score)) → \(String(format: "%.1f", upperBound.score)): the same network trained centrally by DAgger on every family at gold difficulty).</p>"
        }
        if let centralized = gold.centralized {
            let data = gold.centralizedCaptures.map { " from the base policy's ordinary driving and the variations of all \($0) captures the fleet took" } ?? ""
            let share = gold.federatedShareOfCentralized.map { "the fleet reached <b>\(String(format: "%.0f", 100 * $0)) %</b> of its gain" }
                ?? "it gained nothing over the seed model"
            html += "<p>Centralized baseline (the same network trained centrally by DAgger\(data)): \(String(format: "%.1f", centralized.score)); \(share).</p>"
        }
        return html
    }

    /// Without the whole-suite comparison: the gate's own numbers, first round against last.
    private func roundHeadline(_ families: [String]) -> String {
        var rows = "<h2>Per family</h2><table><tr><th>family</th><th class=\"n\">collision % before</th><th class=\"n\">after</th><th class=\"n\">change (points)</th></tr>"
        for family in families {
            let before = 100 * (summary.collisionBefore[family] ?? 0), after = 100 * (summary.collisionAfter[family] ?? 0)
            rows += "<tr><td>\(HTML.escape(family))</td><td class=\"n\">\(String(format: "%.1f", before))</td><td class=\"n\">\(String(format: "%.1f", after))</td>"
            rows += "<td class=\"n \(after < before ? "better" : after > before ? "worse" : "")\">\(String(format: "%+.1f", after - before))</td></tr>"
        }
        return rows + "</table>"
    }

    private func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    private func bytesTable() -> String {
        let up = summary.rounds.map(\.bytesUp).reduce(0, +), dense = summary.rounds.map(\.denseBytesUp).reduce(0, +)
        let down = summary.rounds.map(\.bytesDown).reduce(0, +)
        let ratio = up > 0 ? String(format: "%.0f×", Double(dense) / Double(up)) : "–"
        return "<table><tr><th>uploads sent</th><th class=\"n\">bytes</th></tr>"
            + "<tr><td>policy deltas (sparse, int8, zstd)</td><td class=\"n\">\(up)</td></tr>"
            + "<tr><td>the same updates as dense float32 models</td><td class=\"n\">\(dense)</td></tr>"
            + "<tr><td>smaller by</td><td class=\"n\">\(ratio)</td></tr>"
            + "<tr><td>model downloads (version deltas; whole checkpoints for nodes further behind)</td><td class=\"n\">\(down)</td></tr></table>"
    }

    private func transfer(_ families: [String]) -> String {
        let gold = summary.gold
        let before = gold?.seed.collisionRate ?? summary.collisionBefore, after = gold?.federated.collisionRate ?? summary.collisionAfter
        let twins = gold?.localOnly ?? [:]
        var html = "<table><tr><th>region</th><th>family it never meets</th><th class=\"n\">collision % before federation</th><th class=\"n\">after</th>"
        if !twins.isEmpty { html += "<th class=\"n\">its local-only twin</th>" }
        html += "</tr>"
        for region in summary.regionFamilies.keys.sorted() {
            let met = Set(summary.regionFamilies[region] ?? [])
            for family in families where !met.contains(family) {
                let seed = 100 * (before[family] ?? 0), federated = 100 * (after[family] ?? 0)
                html += "<tr><td>\(HTML.escape(region))</td><td>\(HTML.escape(family))</td><td class=\"n\">\(String(format: "%.1f", seed))</td>"
                html += "<td class=\"n \(federated < seed ? "better" : federated > seed ? "worse" : "")\">\(String(format: "%.1f", federated))</td>"
                if !twins.isEmpty {
                    html += "<td class=\"n\">\(twins[region]?.collisionRate[family].map { String(format: "%.1f", 100 * $0) } ?? "–")</td>"
                }
                html += "</tr>"
            }
        }
        html += "</table><p>Every car runs the shared model, so a region's cars meet a family they never trained on with what the rest of the fleet learned"
        return html + (twins.isEmpty ? ".</p>" : "; its local-only twin has only what its own captures taught it.</p>")
    }

    private func versions() -> String {
        var html = "<table><tr><th>round</th><th>updates</th><th>verdict</th><th>version serving</th><th class=\"n\">gold</th><th>why</th></tr>"
        for round in summary.rounds {
            let why = round.reasons.isEmpty ? (round.verdict == "promoted" ? "no family regressed" : "") : round.reasons.joined(separator: "; ")
            html += "<tr><td>\(round.round)</td><td>\(round.updatesAccepted)/\(round.updatesSent)</td><td class=\"\(round.verdict)\">\(round.verdict)</td>"
            html += "<td>v\(round.version)</td><td class=\"n\">\(score(round.goldScore))</td><td>\(HTML.escape(why))</td></tr>"
        }
        return html + "</table>"
    }

    // MARK: Charts

    private func goldChart() -> LineChart {
        var points: [(x: Double, y: Double)] = summary.goldBefore.map { [(0, $0)] } ?? []
        points += summary.rounds.compactMap { round in round.goldScore.map { (Double(round.round), $0) } }
        return LineChart(
            title: "gold-suite score (collision-free %)", xLabel: "round (0: the seed model)", yLabel: "score",
            series: [.init(name: "serving version", color: "#1a7f37", points: points)], yRange: 0...100)
    }

    private func familyChart(_ families: [String]) -> LineChart {
        var chart = LineChart(
            title: "collision rate per family (%)", xLabel: "round (0: the seed model)", yLabel: "collision %",
            series: families.enumerated().map { position, family in
                var points: [(x: Double, y: Double)] = [(0, 100 * (summary.collisionBefore[family] ?? 0))]
                points += summary.rounds.compactMap { round in round.collisionRate[family].map { (Double(round.round), 100 * $0) } }
                return .init(name: family, color: Self.palette[position % Self.palette.count], points: points)
            },
            yRange: 0...100)
        chart.width = 900
        chart.height = 340
        return chart
    }

    private func bytesChart() -> LineChart {
        func series(_ name: String, _ color: String, _ value: (RoundSummary) -> Int) -> LineChart.Series {
            // A round with nothing sent has no point (log of zero).
            .init(name: name, color: color, points: summary.rounds.filter { value($0) > 0 }.map { (Double($0.round), log10(Double(value($0)) / 1024)) })
        }
        return LineChart(
            title: "bytes per round (log10 KiB)", xLabel: "round", yLabel: "log10 KiB",
            series: [
                series("deltas sent", "#1f77b4", \.bytesUp),
                series("as dense float32", "#d62728", \.denseBytesUp),
                series("model downloads", "#7f7f7f", \.bytesDown),
            ])
    }

    private func capturesHeatmap() -> Heatmap {
        var totals: [String: [String: Int]] = [:]
        for round in summary.rounds {
            for (region, byFamily) in round.capturesByRegion { totals[region, default: [:]].merge(byFamily, uniquingKeysWith: +) }
        }
        let regions = totals.keys.sorted()
        let families = Set(totals.values.flatMap(\.keys)).sorted()
        return Heatmap(
            title: "captures over the run", rows: regions, columns: families,
            values: regions.map { region in families.map { Double(totals[region]?[$0] ?? 0) } })
    }

    private func expertHeatmap() -> Heatmap {
        let regions = summary.expertUseByRegion.keys.sorted()
        let experts = summary.expertUseByRegion.values.map(\.count).max() ?? 0
        return Heatmap(
            title: "decisions per expert (%)", rows: regions, columns: (0..<experts).map { "expert \($0)" },
            values: regions.map { region in
                let use = summary.expertUseByRegion[region] ?? []
                let total = Double(max(use.reduce(0, +), 1))
                return (0..<experts).map { $0 < use.count ? 100 * Double(use[$0]) / total : 0 }
            },
            perRow: true)
    }

    private func score(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "–" }
}
