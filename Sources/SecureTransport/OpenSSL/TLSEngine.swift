import COpenSSL
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// What one OpenSSL call on a connection came to.
///
/// Why so few cases: every `SSL_*` result is either done, blocked until more
/// ciphertext arrives, blocked until ciphertext is taken out, finished by the
/// peer's close_notify, or a failure with OpenSSL's reasons attached. The state
/// machine decides what each means; nothing else is needed.
enum EngineResult: Equatable {
    /// The call finished.
    case complete
    /// More ciphertext from the peer is needed.
    case wantRead
    /// Ciphertext must be taken out first (never with growable memory BIOs, handled anyway).
    case wantWrite
    /// The peer sent close_notify.
    case closed
    /// The call failed.
    case failed(TLSError)
}

/// One TLS connection: an OpenSSL `SSL*` fed through a memory BIO and drained
/// through ``CiphertextOutputBIO``.
///
/// Why in-memory BIOs: SwiftNIO owns the socket. Ciphertext read from the
/// network is written into the read BIO and OpenSSL consumes it; whatever
/// ciphertext OpenSSL produces (handshake flights, records, alerts) is appended
/// to ``outbound`` until the handler takes it and writes it to the channel.
/// The `SSL*` owns both BIOs; `deinit` frees all three.
final class TLSEngine {
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    /// Ciphertext OpenSSL produced and the handler has not taken yet (filled by ``CiphertextOutputBIO``).
    var outbound = ByteBuffer()
    /// Keeps the `SSL_CTX` (and its callbacks' owner) alive as long as the connection.
    let context: TLSContext

    /// Creates a connection in the role of `context`.
    /// - Parameter serverHostname: Clients only: the name (or IP address) the
    ///   server certificate must match; names are also sent as SNI.
    init(context: TLSContext, serverHostname: String?) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError.drained(.internalFailure, "SSL_new failed")
        }
        guard let readBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.drained(.internalFailure, "could not allocate a memory BIO")
        }
        // An empty read BIO means "retry later", not end of file.
        _ = fleet_BIO_set_mem_eof_return(readBIO, -1)
        self.ssl = ssl
        self.readBIO = readBIO
        self.context = context
        guard let writeBIO = CiphertextOutputBIO.make(for: self) else {
            BIO_free(readBIO)
            SSL_free(ssl)
            throw TLSError.drained(.internalFailure, "could not allocate the output BIO")
        }
        SSL_set_bio(ssl, readBIO, writeBIO)
        switch context.configuration.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let host = serverHostname { try setServerHostname(host) }
        }
    }

    deinit { SSL_free(ssl) }

    private func setServerHostname(_ host: String) throws(TLSError) {
        if Self.isIPAddress(host) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else {
                throw TLSError.drained(.invalidConfiguration, "serverHostname: '\(host)' is not a valid IP address")
            }
        } else {
            guard fleet_SSL_set_tlsext_host_name(ssl, host) == 1, SSL_set1_host(ssl, host) == 1 else {
                throw TLSError.drained(.invalidConfiguration, "serverHostname: '\(host)' is not a valid host name")
            }
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, host, &buffer) == 1 || inet_pton(AF_INET6, host, &buffer) == 1
    }

    // MARK: Ciphertext in and out

    /// Hands ciphertext received from the network to OpenSSL.
    func receive(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = BIO_write(readBIO, bytes.baseAddress! + offset, Int32(min(bytes.count - offset, Int(Int32.max))))
                guard written > 0 else { break }
                offset += Int(written)
            }
        }
    }

    /// Bytes of ciphertext OpenSSL has produced and not yet handed out.
    var pendingCiphertext: Int { outbound.readableBytes }

    /// Bytes of ciphertext received but not yet consumed by OpenSSL.
    var unconsumedCiphertext: Int { fleet_BIO_ctrl_pending(readBIO) }

    /// Takes out the ciphertext OpenSSL produced, or nil when there is none.
    func takeCiphertext(allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard outbound.readableBytes > 0 else { return nil }
        let ciphertext = outbound
        outbound = ByteBuffer()
        return ciphertext
    }

    // MARK: SSL operations

    /// One step of the handshake.
    func handshake() -> EngineResult {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        return result == 1 ? .complete : classify(result, during: "handshake")
    }

    /// Decrypts into `buffer` until it is full, OpenSSL needs more ciphertext, or the peer closed.
    /// - Returns: `.complete` when the buffer filled (call again), else why it stopped.
    func read(into buffer: inout ByteBuffer, upTo limit: Int) -> EngineResult {
        OpenSSLErrorQueue.clear()
        var outcome = EngineResult.complete
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: limit) { bytes in
            var total = 0
            while total < limit {
                var count = 0
                let status = SSL_read_ex(ssl, bytes.baseAddress! + total, limit - total, &count)
                if status == 1 {
                    total += count
                } else {
                    outcome = classify(0, during: "read")
                    break
                }
            }
            return total
        }
        return outcome
    }

    /// Encrypts all of `bytes` (memory BIOs grow, so this never blocks).
    func write(_ bytes: UnsafeRawBufferPointer) -> EngineResult {
        OpenSSLErrorQueue.clear()
        guard !bytes.isEmpty else { return .complete }
        // Room for the records' headers and tags, so the output buffer grows once.
        outbound.reserveCapacity(minimumWritableBytes: bytes.count + (bytes.count / 16_384 + 1) * 64)
        var written = 0
        let status = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &written)
        return status == 1 ? .complete : classify(0, during: "write")
    }

    /// Sends close_notify, or completes the shutdown once the peer's arrived.
    /// - Returns: `.complete` when both sides have sent close_notify, `.wantRead` while waiting for the peer's.
    func shutdown() -> EngineResult {
        OpenSSLErrorQueue.clear()
        let result = SSL_shutdown(ssl)
        switch result {
        case 1: return .complete
        case 0: return .wantRead
        default:
            let classified = classify(result, during: "shutdown")
            if case .failed = classified, SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0 { return .complete }
            return classified
        }
    }

    /// Whether our close_notify has gone out.
    var sentCloseNotify: Bool { SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN != 0 }

    private func classify(_ result: Int32, during operation: String) -> EngineResult {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_NONE: return .complete
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: return .failed(failure(during: operation))
        }
    }

    /// Builds the error for a failed operation: a verification failure names the certificate problem.
    private func failure(during operation: String) -> TLSError {
        let queue = OpenSSLErrorQueue.drain()
        if operation == "handshake" {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                let reason = String(cString: X509_verify_cert_error_string(verify))
                let code: TLSError.Code = switch Int32(verify) {
                case X509_V_ERR_CERT_REVOKED: .certificateRevoked
                case X509_V_ERR_APPLICATION_VERIFICATION: .nodeIdentityMissing
                default: .peerCertificateRejected
                }
                let detail = code == .nodeIdentityMissing ? "no \(NodeIdentity.uriPrefix)<id> URI in the certificate" : reason
                return TLSError(code, "peer certificate rejected: \(detail)", openSSLErrors: queue)
            }
            if queue.contains(where: { $0.contains("peer did not return a certificate") }) {
                return TLSError(.peerCertificateMissing, "the peer presented no certificate; a fleet client certificate is required", openSSLErrors: queue)
            }
            return TLSError(.handshakeFailed, "TLS handshake failed", openSSLErrors: queue)
        }
        return TLSError(.recordFailure, "TLS \(operation) failed", openSSLErrors: queue)
    }

    // MARK: Connection facts

    /// What the completed handshake established.
    func connectionInfo() -> TLSConnectionInfo {
        var alpnData: UnsafePointer<UInt8>? = nil
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnData, &alpnLength)
        let alpn = alpnData.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self) }
        let peer = SSL_get1_peer_certificate(ssl).map { Certificate(taking: $0) }
        let identity: NodeIdentity? = peer.flatMap { certificate in
            certificate.nodeID.map {
                NodeIdentity(nodeID: $0, certificateSerial: certificate.serialNumberHex, commonName: certificate.commonName)
            }
        }
        return TLSConnectionInfo(
            protocolVersion: String(cString: SSL_get_version(ssl)),
            cipherSuite: SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "",
            applicationProtocol: (alpn?.isEmpty ?? true) ? nil : alpn,
            peerIdentity: identity,
            peerCommonName: peer?.commonName
        )
    }
}
