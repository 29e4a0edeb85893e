import Testing
import FleetWire
import PolicyNetwork

@Suite("model manifest")
struct ModelManifestTests {
    static let manifest = ModelManifest(
        version: 4, parent: 3,
        contentHash: "sha256:" + String(repeating: "ab", count: 32), contentLength: 291_000,
        architecture: .standard, round: 7, createdAt: "2026-11-25T01:00:00Z",
        contributors: ["alpine-01", "coastal-02"], families: ["ice": 1, "fog": 1], samplesPerExpert: [0, 10, 0, 0, 5, 0, 0, 0],
        aggregation: AggregationSummary(rule: "weighted_mean", serverOptimizer: "fedavg", updates: 2),
        gate: GateSummary(verdict: "promoted", suite: "gold-v1", currentScore: 71.5, candidateScore: 74.0, families: [], reasons: [])
    )

    @Test("canonical bytes are stable and decode to the same manifest")
    func canonical() throws {
        let bytes = try Self.manifest.canonicalBytes()
        #expect(try Self.manifest.canonicalBytes() == bytes)
        #expect(try ModelManifest.decode(bytes) == Self.manifest)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\"aggregation\":"))
        #expect(text.contains("\"content_hash\":\"sha256:abab"))
    }

    @Test("a manifest that lies about its architecture or hash is refused")
    func refusals() throws {
        var wrongHash = Self.manifest
        wrongHash.architectureHash = "0000000000000000"
        #expect(throws: FleetWireError(.invalidField, "")) { try ModelManifest.decode(wrongHash.canonicalBytes()) }
        var badContent = Self.manifest
        badContent.contentHash = "md5:1234"
        #expect(throws: FleetWireError(.invalidField, "")) { try ModelManifest.decode(badContent.canonicalBytes()) }
        var future = Self.manifest
        future.format = "fleet-model/9"
        #expect(throws: FleetWireError(.unsupportedVersion, "")) { try ModelManifest.decode(future.canonicalBytes()) }
        #expect(throws: FleetWireError(.invalidMetadata, "")) { try ModelManifest.decode(Array("{}".utf8)) }
    }
}
