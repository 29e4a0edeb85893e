import COpenSSL

/// Ed25519 signatures over a model manifest's bytes.
///
/// Why Ed25519 over the exact bytes: a node must be sure a model came from the
/// coordinator before driving with it. Ed25519 (RFC 8032) hashes the message
/// internally (so OpenSSL's `EVP_DigestSign` is called with a NULL digest),
/// signatures are deterministic and 64 bytes, and any change to any byte of the
/// manifest — which pins the weights by content hash — fails verification.
public enum ModelSignature {
    /// Signs `message` with an Ed25519 key.
    /// - Returns: The 64-byte signature.
    public static func sign(_ message: some Collection<UInt8>, with key: PrivateKey) throws(TLSError) -> [UInt8] {
        guard key.algorithm == .ed25519 else {
            throw TLSError(.invalidKey, "model signing needs an Ed25519 key, not \(key.algorithm?.rawValue ?? "an unknown type")")
        }
        guard let context = EVP_MD_CTX_new() else { throw TLSError.drained(.internalFailure, "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        OpenSSLErrorQueue.clear()
        guard EVP_DigestSignInit(context, nil, nil, nil, key.pointer) == 1 else {
            throw TLSError.drained(.invalidKey, "EVP_DigestSignInit failed")
        }
        let bytes = Array(message)
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        guard EVP_DigestSign(context, &signature, &length, bytes, bytes.count) == 1 else {
            throw TLSError.drained(.internalFailure, "EVP_DigestSign failed")
        }
        return Array(signature.prefix(length))
    }

    /// Checks an Ed25519 signature over `message`.
    /// - Throws: `TLSError.signatureInvalid` when the signature does not match the bytes and key.
    public static func verify(_ signature: [UInt8], of message: some Collection<UInt8>, with key: PublicKey) throws(TLSError) {
        guard EVP_PKEY_get_base_id(key.pointer) == EVP_PKEY_ED25519 else {
            throw TLSError(.invalidKey, "model signatures are verified with an Ed25519 public key")
        }
        guard let context = EVP_MD_CTX_new() else { throw TLSError.drained(.internalFailure, "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        OpenSSLErrorQueue.clear()
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pointer) == 1 else {
            throw TLSError.drained(.invalidKey, "EVP_DigestVerifyInit failed")
        }
        let bytes = Array(message)
        guard EVP_DigestVerify(context, signature, signature.count, bytes, bytes.count) == 1 else {
            throw TLSError.drained(.signatureInvalid, "the model signature does not match its manifest (\(bytes.count) bytes)")
        }
    }

    /// Whether the signature is valid (``verify(_:of:with:)`` without the error).
    public static func isValid(_ signature: [UInt8], of message: some Collection<UInt8>, with key: PublicKey) -> Bool {
        (try? verify(signature, of: message, with: key)) != nil
    }
}
