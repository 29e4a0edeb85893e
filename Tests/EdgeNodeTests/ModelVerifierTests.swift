import FleetWire
import Foundation
import PolicyNetwork
import Testing
@testable import EdgeNode
@testable import SecureTransport

/// A model drives only if the fleet's key signed its manifest and the weights match the manifest.
@Suite("Model verification")
struct ModelVerifierTests {
    let fleet = TestFleet.shared

    @Test("a signed model whose weights match its manifest passes")
    func valid() throws {
        let published = try fleet.publish(version: 4)
        let model = try fleet.verifier.verify(published.download)
        #expect(model.version == 4)
        #expect(model.policy.architecture.hash == fleet.basePolicy.architecture.hash)
    }

    /// The ways a download can be tampered with, each caught by a named check.
    enum Tamper: String, CaseIterable, Sendable {
        case checkpointByte, manifestByte, signatureByte, otherSigningKey, wrongVersionHeader, truncatedBody
    }

    @Test("a tampered model is rejected", arguments: Tamper.allCases)
    func tampered(_ tamper: Tamper) throws {
        var download = try fleet.publish(version: 4).download
        switch tamper {
        case .checkpointByte:
            var checkpoint = try Zstd.decompress(download.compressedCheckpoint, limit: 64 << 20)
            checkpoint[checkpoint.count / 2] ^= 0x01
            download.compressedCheckpoint = try Zstd.compress(checkpoint)
        case .manifestByte:
            let index = download.manifestBytes.firstIndex(of: UInt8(ascii: "4"))!
            download.manifestBytes[index] = UInt8(ascii: "5")
        case .signatureByte:
            download.signature[0] ^= 0x80
        case .otherSigningKey:
            download.signature = try ModelSignature.sign(download.manifestBytes, with: try PrivateKey(generating: .ed25519))
        case .wrongVersionHeader:
            download.version = 5
        case .truncatedBody:
            download.compressedCheckpoint.removeLast(16)
        }
        #expect(throws: AgentError(.modelRejected, "")) { _ = try fleet.verifier.verify(download) }
    }

    @Test("the stored model survives a restart and is verified again on load")
    func storeRoundTrip() throws {
        let directory = fleet.dataDirectory("store")
        let store = try ModelStore(directory: directory)
        #expect(try store.load(verifier: fleet.verifier) == nil)
        try store.save(try fleet.verifier.verify(try fleet.publish(version: 2).download))
        try store.save(try fleet.verifier.verify(try fleet.publish(version: 3, perturb: 0.01).download))
        #expect(try store.load(verifier: fleet.verifier)?.version == 3)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("v2.safetensors").path))

        // A stored checkpoint changed on disk no longer verifies.
        let file = directory.appendingPathComponent("v3.safetensors")
        var bytes = [UInt8](try Data(contentsOf: file))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: file)
        #expect(throws: AgentError(.modelRejected, "")) { _ = try store.load(verifier: fleet.verifier) }
    }
}
