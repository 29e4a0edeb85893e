import Foundation
import Testing
import FleetWire
import Coordinator
import PolicyNetwork

@Suite("dashboard")
struct DashboardTests {
    func manifest(version: UInt64, score: Double, reasons: [String]) -> ModelManifest {
        ModelManifest(
            version: version, parent: version - 1, contentHash: "sha256:" + String(repeating: "0", count: 64), contentLength: 1,
            architecture: .standard, round: version, createdAt: "2026-11-25T00:00:00Z",
            contributors: ["a", "b"], families: ["fog": 2],
            gate: GateSummary(verdict: reasons.isEmpty ? "promoted" : "rejected", suite: "gold-v1", currentScore: 60, candidateScore: score, families: [], reasons: reasons)
        )
    }

    @Test("the page shows versions with the gate's reasons, escaped, and a chart of the gold score")
    func render() throws {
        let versions: [(CoordinatorStore.Version, ModelManifest?)] = [
            (.init(version: 3, parent: 2, status: .rejected, contentHash: "", manifest: [], signature: nil, createdAt: 0),
             manifest(version: 3, score: 55, reasons: ["fog collision rate rose <from 0.1 to 0.3>"])),
            (.init(version: 2, parent: 1, status: .published, contentHash: "", manifest: [], signature: nil, createdAt: 0),
             manifest(version: 2, score: 70, reasons: [])),
        ]
        let page = DashboardPage(.init(
            now: 100, currentVersion: 2, nodesOnline: 7, nodesKnown: 9, recentNodes: [], round: nil, phase: "idle",
            versions: versions, audit: []
        )).render()
        #expect(page.contains("<td class=\"rejected\">rejected</td>"))
        #expect(page.contains("fog collision rate rose &lt;from 0.1 to 0.3&gt;"))
        #expect(!page.contains("<from 0.1"))
        #expect(page.contains("<svg"))
        #expect(page.contains("60.0 → 70.0"))
        #expect(page.contains("<b>7 / 9</b>"))
        // One point per gated version: a published and a rejected circle.
        #expect(page.components(separatedBy: "<circle").count - 1 == 2)
    }

    @Test("a chart's points fall inside its plot area")
    func chartGeometry() {
        let chart = LineChart(
            title: "t", xLabel: "x", yLabel: "y",
            series: [.init(name: "s", color: "#000", points: [(1, 0), (2, 50), (3, 100)])],
            yRange: 0...100
        )
        let svg = chart.svg()
        let polyline = svg.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0]
        let coordinates = polyline.split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }
        #expect(coordinates.count == 3)
        #expect(coordinates.allSatisfy { $0[0] >= 56 && $0[0] <= 624 && $0[1] >= 28 && $0[1] <= 220 })
        #expect(coordinates[0][1] > coordinates[2][1])  // higher scores draw higher
    }
}
