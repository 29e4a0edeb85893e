import COpenSSL

/// An incremental SHA-256 over OpenSSL's EVP interface.
///
/// Why here: content hashes of transferred bytes (and of model files) should
/// use the same vetted, vectorized implementation as the TLS layer.
public final class SHA256Digest {
    private let context: OpaquePointer

    /// Starts an empty digest.
    public init() {
        context = EVP_MD_CTX_new()!
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if !bytes.isEmpty { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    /// Adds bytes.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as lower-case hexadecimal; the digest is finished afterwards.
    public func finalizeHex() -> String {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &output, &length)
        return output.prefix(Int(length)).map { String(format: $0) }.joined()
    }

    /// `sha256:<hex>` of `bytes`: how manifests and the blob store name content.
    public static func contentHash(of bytes: [UInt8]) -> String {
        let digest = SHA256Digest()
        digest.update(bytes)
        return "sha256:" + digest.finalizeHex()
    }
}

extension String {
    fileprivate init(format byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
