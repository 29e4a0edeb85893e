import Testing
@testable import SecureTransport

/// Ed25519 signatures over manifest bytes: valid ones verify, any change fails.
@Suite("Model signatures")
struct ModelSignatureTests {
    let manifest = Array(#"{"version":7,"parent":6,"sha256":"9f86d081884c7d65"}"#.utf8)

    @Test("a signature verifies with the public key, also after a PEM round trip")
    func signAndVerify() throws {
        let key = try PrivateKey(generating: .ed25519)
        let signature = try ModelSignature.sign(manifest, with: key)
        #expect(signature.count == 64)
        try ModelSignature.verify(signature, of: manifest, with: key.publicKey)
        try ModelSignature.verify(signature, of: manifest, with: PublicKey(pem: key.publicKey.pem))
        #expect(try ModelSignature.sign(manifest, with: key) == signature, "Ed25519 is deterministic")
    }

    @Test("flipping any one byte of the manifest fails verification", arguments: [0, 10, 30, 47])
    func tamperedByte(_ index: Int) throws {
        let key = try PrivateKey(generating: .ed25519)
        let signature = try ModelSignature.sign(manifest, with: key)
        var tampered = manifest
        tampered[index] ^= 0x01
        #expect(throws: TLSError(.signatureInvalid, "")) { try ModelSignature.verify(signature, of: tampered, with: key.publicKey) }
        var badSignature = signature
        badSignature[index % 64] ^= 0x80
        #expect(!ModelSignature.isValid(badSignature, of: manifest, with: key.publicKey))
    }

    @Test("another key's signature and a non-Ed25519 key are refused")
    func wrongKeys() throws {
        let key = try PrivateKey(generating: .ed25519)
        let other = try PrivateKey(generating: .ed25519)
        let signature = try ModelSignature.sign(manifest, with: key)
        #expect(!ModelSignature.isValid(signature, of: manifest, with: other.publicKey))
        #expect(throws: TLSError(.invalidKey, "")) { try ModelSignature.sign(manifest, with: PrivateKey(generating: .p256)) }
    }
}
