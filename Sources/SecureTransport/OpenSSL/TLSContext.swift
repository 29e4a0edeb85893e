import COpenSSL

/// A validated TLS configuration compiled into an OpenSSL `SSL_CTX`, shared by
/// every connection that uses it.
///
/// Why build it once: loading certificates, keys and trust roots costs far more
/// than a connection should; an `SSL_CTX` is safe to use from many threads for
/// creating connections. The class owns the `SSL_CTX*` and frees it in `deinit`.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The configuration this context was built from.
    public let configuration: TLSConfiguration
    /// ALPN protocols in wire format (length-prefixed), owned for the server's selection callback.
    let alpnWire: UnsafeMutableBufferPointer<UInt8>
    /// How many bytes of `alpnWire` are used.
    let alpnWireLength: Int

    /// Builds the context.
    /// - Throws: `TLSError.invalidConfiguration` naming the bad field, or
    ///   `invalidCertificate` / `invalidKey` when OpenSSL refuses them.
    public init(configuration: TLSConfiguration) throws(TLSError) {
        try configuration.validate()
        _ = fleet_OPENSSL_init_ssl()
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        guard let context = SSL_CTX_new(method) else {
            throw TLSError.drained(.internalFailure, "SSL_CTX_new failed")
        }
        self.pointer = context
        self.configuration = configuration
        var wire: [UInt8] = []
        for name in configuration.applicationProtocols {
            wire.append(UInt8(name.utf8.count))
            wire.append(contentsOf: name.utf8)
        }
        alpnWire = .allocate(capacity: max(wire.count, 1))
        _ = alpnWire.initialize(from: wire)
        if wire.isEmpty { alpnWire[0] = 0 }
        alpnWireLength = wire.count
        try configure(wireLength: wire.count)
    }

    deinit {
        SSL_CTX_free(pointer)
        alpnWire.deallocate()
    }

    private func configure(wireLength: Int) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        fleet_SSL_CTX_set_fleet_options(pointer)
        _ = fleet_SSL_CTX_set_session_cache_mode(pointer, Int(SSL_SESS_CACHE_OFF))
        if configuration.role == .server { _ = SSL_CTX_set_num_tickets(pointer, 0) }
        guard fleet_SSL_CTX_set_min_proto_version(pointer, Int32(configuration.minimumProtocolVersion.rawValue)) == 1,
              fleet_SSL_CTX_set_max_proto_version(pointer, Int32(configuration.maximumProtocolVersion.rawValue)) == 1
        else { throw TLSError.drained(.invalidConfiguration, "protocol versions rejected by OpenSSL") }
        guard fleet_SSL_CTX_set1_groups_list(pointer, configuration.groups.joined(separator: ":")) == 1 else {
            throw TLSError.drained(.invalidConfiguration, "groups: OpenSSL does not know \(configuration.groups)")
        }
        try installIdentity()
        try installTrust()
        fleet_SSL_CTX_set_app_data(pointer, Unmanaged.passUnretained(self).toOpaque())
        if wireLength > 0 {
            switch configuration.role {
            case .client:
                // Unusually, 0 means success here.
                guard SSL_CTX_set_alpn_protos(pointer, alpnWire.baseAddress, UInt32(wireLength)) == 0 else {
                    throw TLSError.drained(.invalidConfiguration, "applicationProtocols rejected by OpenSSL")
                }
            case .server:
                SSL_CTX_set_alpn_select_cb(pointer, alpnSelectCallback, Unmanaged.passUnretained(self).toOpaque())
            }
        }
    }

    private func installIdentity() throws(TLSError) {
        guard let leaf = configuration.certificateChain.first, let key = configuration.privateKey else { return }
        guard SSL_CTX_use_certificate(pointer, leaf.pointer) == 1 else {
            throw TLSError.drained(.invalidCertificate, "certificateChain[0] rejected by OpenSSL")
        }
        for intermediate in configuration.certificateChain.dropFirst() {
            X509_up_ref(intermediate.pointer)
            guard fleet_SSL_CTX_add_extra_chain_cert(pointer, intermediate.pointer) == 1 else {
                X509_free(intermediate.pointer)
                throw TLSError.drained(.invalidCertificate, "an intermediate certificate was rejected by OpenSSL")
            }
        }
        guard SSL_CTX_use_PrivateKey(pointer, key.pointer) == 1 else {
            throw TLSError.drained(.invalidKey, "privateKey rejected by OpenSSL")
        }
        guard SSL_CTX_check_private_key(pointer) == 1 else {
            throw TLSError.drained(.invalidKey, "privateKey does not match certificateChain[0]")
        }
    }

    private func installTrust() throws(TLSError) {
        let store = SSL_CTX_get_cert_store(pointer)
        for root in configuration.trustRoots {
            guard X509_STORE_add_cert(store, root.pointer) == 1 else {
                throw TLSError.drained(.invalidCertificate, "trustRoots: a certificate was rejected by OpenSSL")
            }
        }
        switch configuration.role {
        case .client:
            SSL_CTX_set_verify(pointer, configuration.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        case .server:
            switch configuration.clientAuthentication {
            case .none:
                SSL_CTX_set_verify(pointer, SSL_VERIFY_NONE, nil)
            case .required, .fleetNode:
                for root in configuration.trustRoots { SSL_CTX_add_client_CA(pointer, root.pointer) }
                SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verifyCallback)
            }
        }
    }

    /// The context that owns an `SSL_CTX`, from its app data.
    static func owning(_ context: OpaquePointer?) -> TLSContext? {
        guard let context, let raw = fleet_SSL_CTX_get_app_data(context) else { return nil }
        return Unmanaged<TLSContext>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The fleet's own check of a leaf certificate OpenSSL has already chain-verified:
    /// it must not be revoked, and must name a node when ``TLSConfiguration/ClientAuthentication/fleetNode`` is set.
    func checkLeaf(_ certificate: Certificate) -> Int32 {
        if configuration.clientAuthentication == .fleetNode && certificate.nodeID == nil {
            return X509_V_ERR_APPLICATION_VERIFICATION
        }
        if let list = configuration.revocationList, list.isRevoked(serialHex: certificate.serialNumberHex) {
            return X509_V_ERR_CERT_REVOKED
        }
        return X509_V_OK
    }
}

/// Called by OpenSSL for every certificate of the peer's chain during verification.
private let verifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, store in
    guard preverified == 1, let store else { return preverified }
    guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let ssl = X509_STORE_CTX_get_ex_data(store, fleet_X509_STORE_CTX_ssl_index()),
          let context = TLSContext.owning(SSL_get_SSL_CTX(OpaquePointer(ssl))),
          let leaf = X509_STORE_CTX_get_current_cert(store) else { return 0 }
    let verdict = context.checkLeaf(Certificate(borrowing: leaf))
    guard verdict == X509_V_OK else {
        X509_STORE_CTX_set_error(store, verdict)
        return 0
    }
    return 1
}

/// Chooses the first of the server's ALPN protocols the client also offers;
/// without overlap the handshake continues without ALPN.
private let alpnSelectCallback: fleet_alpn_select_cb = { _, out, outLength, clientList, clientLength, argument in
    guard let argument, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSContext>.fromOpaque(argument).takeUnretainedValue()
    let result = fleet_SSL_select_next_proto(
        out, outLength, context.alpnWire.baseAddress, UInt32(context.alpnWireLength), clientList, clientLength
    )
    return result == OPENSSL_NPN_NEGOTIATED ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK
}
