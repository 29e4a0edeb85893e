import COpenSSL

/// A private key held by OpenSSL (P-256 or Ed25519).
///
/// Why a final class: the `EVP_PKEY*` is freed in `deinit` and never leaves
/// this module. Keys are not mutated after creation, so sharing them across
/// threads is safe.
public final class PrivateKey: @unchecked Sendable {
    /// The key algorithms the fleet uses.
    public enum Algorithm: String, Sendable, CaseIterable {
        /// ECDSA over NIST P-256, signed with SHA-256. Accepted by every TLS stack.
        case p256
        /// Ed25519 (RFC 8032): small, fast, deterministic signatures.
        case ed25519
    }

    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// Generates a fresh key from OpenSSL's CSPRNG.
    ///
    /// Key material is the one random thing here that must not take a seed.
    public convenience init(generating algorithm: Algorithm) throws(TLSError) {
        let key: OpaquePointer? = switch algorithm {
        case .p256: fleet_EVP_EC_gen_p256()
        case .ed25519: fleet_EVP_ED25519_gen()
        }
        guard let key else { throw TLSError.drained(.invalidKey, "could not generate a \(algorithm) key") }
        self.init(taking: key)
    }

    /// Parses a PEM private key (PKCS#8 or traditional).
    public convenience init(pem: String) throws(TLSError) {
        let bio = try MemoryBIO(bytes: Array(pem.utf8))
        guard let key = PEM_read_bio_PrivateKey(bio.pointer, nil, nil, nil) else {
            throw TLSError.drained(.invalidKey, "the text is not an unencrypted PEM private key")
        }
        self.init(taking: key)
    }

    /// Reads a PEM private key file.
    public convenience init(pemFile path: String) throws(TLSError) {
        try self.init(pem: try FileIO.readText(path))
    }

    /// The algorithm of this key, or nil for one the fleet does not use.
    public var algorithm: Algorithm? {
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_ED25519: .ed25519
        case EVP_PKEY_EC: .p256
        default: nil
        }
    }

    /// The key in unencrypted PKCS#8 PEM form. Store it with ``write(toFile:)``, which sets mode 0600.
    public var pem: String {
        guard let bio = try? MemoryBIO(),
              PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil) == 1 else { return "" }
        return bio.string()
    }

    /// The matching public key.
    public var publicKey: PublicKey {
        // Round-trip through the SubjectPublicKeyInfo encoding: the copy holds no private part.
        let bio = try? MemoryBIO()
        if let bio, PEM_write_bio_PUBKEY(bio.pointer, pointer) == 1,
           let key = PEM_read_bio_PUBKEY(bio.pointer, nil, nil, nil) {
            return PublicKey(taking: key)
        }
        EVP_PKEY_up_ref(pointer)
        return PublicKey(taking: pointer)
    }

    /// Writes the key as PEM, readable by its owner only (mode 0600).
    public func write(toFile path: String) throws(TLSError) {
        try FileIO.write(pem, to: path, mode: 0o600)
    }
}

/// A public key held by OpenSSL, used to verify signatures.
public final class PublicKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// Parses a PEM public key (`-----BEGIN PUBLIC KEY-----`).
    public convenience init(pem: String) throws(TLSError) {
        let bio = try MemoryBIO(bytes: Array(pem.utf8))
        guard let key = PEM_read_bio_PUBKEY(bio.pointer, nil, nil, nil) else {
            throw TLSError.drained(.invalidKey, "the text is not a PEM public key")
        }
        self.init(taking: key)
    }

    /// The key in PEM form.
    public var pem: String {
        guard let bio = try? MemoryBIO(), PEM_write_bio_PUBKEY(bio.pointer, pointer) == 1 else { return "" }
        return bio.string()
    }
}
