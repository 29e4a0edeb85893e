import Foundation
import Testing
import Coordinator
import FleetWire
import PolicyNetwork
import SecureTransport

@Suite("model registry")
struct ModelRegistryTests {
    func registry() throws -> (ModelRegistry, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try CoordinatorStore(path: directory.appendingPathComponent("state.sqlite").path)
        let blobs = try BlobStore(directory: directory.appendingPathComponent("blobs"))
        return (ModelRegistry(store: store, blobs: blobs, signingKey: try PrivateKey(generating: .ed25519)), directory)
    }

    @Test("published versions are signed, and nodes can verify them; candidates are not")
    func signing() throws {
        let (registry, directory) = try registry()
        defer { try? FileManager.default.removeItem(at: directory) }
        let seed = try MoEPolicy(architecture: .standard, seed: 1)
        let first = try registry.record(seed, status: .published, parent: nil, round: nil, createdAt: "2026-11-25T00:00:00Z", at: 0, notes: "seed")
        #expect(first.number == 1)
        let signature = try #require(first.signature)
        #expect(ModelSignature.isValid(signature, of: first.manifestBytes, with: registry.verificationKey))
        var tampered = first.manifestBytes
        tampered[tampered.count / 2] ^= 1
        #expect(!ModelSignature.isValid(signature, of: tampered, with: registry.verificationKey))
        // The checkpoint is the content the manifest names.
        #expect(BlobStore.hash(of: try registry.checkpoint(of: first)) == first.manifest.contentHash)
        #expect(try registry.policy(of: first) == seed)

        let candidate = try MoEPolicy(architecture: .standard, seed: 2)
        let waiting = try registry.record(candidate, status: .awaitingApproval, parent: 1, round: 1, createdAt: "2026-11-25T00:01:00Z", at: 1)
        #expect(waiting.signature == nil)
        #expect(try registry.latest()?.number == 1)
        let approved = try registry.approve(waiting.number)
        #expect(approved.status == .published)
        #expect(ModelSignature.isValid(try #require(approved.signature), of: approved.manifestBytes, with: registry.verificationKey))
        #expect(try registry.latest()?.number == 2)
        #expect(throws: CoordinatorError(.notAwaitingApproval, "")) { try registry.approve(2) }
        #expect(throws: CoordinatorError(.notFound, "")) { try registry.approve(9) }
    }

    @Test("a rejected candidate is kept for the audit trail but never becomes current")
    func rejected() throws {
        let (registry, directory) = try registry()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try registry.record(try MoEPolicy(architecture: .standard, seed: 1), status: .published, parent: nil, round: nil, createdAt: "t", at: 0)
        let gate = GateSummary(verdict: "rejected", suite: "gold-v1", currentScore: 70, candidateScore: 60, families: [], reasons: ["fog: collision-free fell"])
        let refused = try registry.record(try MoEPolicy(architecture: .standard, seed: 3), status: .rejected, parent: 1, round: 1, createdAt: "t", at: 1, gate: gate)
        #expect(refused.signature == nil)
        #expect(try registry.latest()?.number == 1)
        #expect(try registry.all().map(\.number) == [2, 1])
        #expect(try registry.version(2)?.manifest.gate?.reasons == ["fog: collision-free fell"])
    }
}
