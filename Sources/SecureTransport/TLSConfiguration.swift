public import NIOCore

/// Everything that decides how a TLS connection is set up, as a value.
///
/// Why a value with defaults: the defaults are the fleet's policy — TLS 1.3
/// only, X25519 then P-256, ALPN `http/1.1`, peer verification on, client
/// certificates required on servers — so a caller states only what differs
/// (its certificate, key and trust root). ``TLSContext`` validates it once and
/// names the field that is wrong.
public struct TLSConfiguration: Sendable {
    /// A TLS protocol version.
    public enum ProtocolVersion: Int, Sendable, Comparable {
        /// TLS 1.2 (RFC 5246). Only for peers that cannot speak 1.3.
        case tls12 = 0x0303
        /// TLS 1.3 (RFC 8446).
        case tls13 = 0x0304

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Which side of the handshake this configuration is for.
    public enum Role: Sendable, Equatable {
        /// Accepts connections.
        case server
        /// Opens connections.
        case client
    }

    /// What a server demands of client certificates.
    public enum ClientAuthentication: Sendable, Equatable {
        /// Clients are not asked for a certificate.
        case none
        /// A certificate chained to ``trustRoots`` is required.
        case required
        /// A certificate chained to ``trustRoots`` and carrying a `fleet://node/<id>` URI is required.
        case fleetNode
    }

    /// Server or client.
    public var role: Role
    /// Our certificate first, then intermediates (may be empty for a client without a certificate).
    public var certificateChain: [Certificate]
    /// The private key of the first certificate.
    public var privateKey: PrivateKey?
    /// Certificates the peer's chain must lead to (the fleet CA).
    public var trustRoots: [Certificate]
    /// The lowest version accepted. Default TLS 1.3.
    public var minimumProtocolVersion: ProtocolVersion = .tls13
    /// The highest version offered. Default TLS 1.3.
    public var maximumProtocolVersion: ProtocolVersion = .tls13
    /// Key-exchange groups in order of preference (OpenSSL names).
    public var groups: [String] = ["X25519", "P-256"]
    /// ALPN protocols offered (client) or accepted (server), in order of preference.
    public var applicationProtocols: [String] = ["http/1.1"]
    /// Servers only: what is demanded of client certificates.
    public var clientAuthentication: ClientAuthentication = .fleetNode
    /// Servers only: serials refused on new connections.
    public var revocationList: RevocationList?
    /// Clients only: whether to verify the server's certificate and host name (keep on outside tests).
    public var verifyPeer: Bool = true
    /// How long to wait for the peer's close_notify after sending ours.
    public var closeTimeout: TimeAmount = .seconds(5)
    /// The most plaintext buffered while the handshake is still running.
    public var maximumBufferedBytesBeforeHandshake: Int = 1 << 20

    /// A server configuration: our chain and key; `trustRoots` verify client certificates.
    public static func server(
        certificateChain: [Certificate],
        privateKey: PrivateKey,
        trustRoots: [Certificate],
        clientAuthentication: ClientAuthentication = .fleetNode,
        revocationList: RevocationList? = nil
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration(
            role: .server, certificateChain: certificateChain, privateKey: privateKey, trustRoots: trustRoots
        )
        configuration.clientAuthentication = clientAuthentication
        configuration.revocationList = revocationList
        return configuration
    }

    /// A client configuration: `trustRoots` verify the server; chain and key (optional) identify us.
    public static func client(
        trustRoots: [Certificate],
        certificateChain: [Certificate] = [],
        privateKey: PrivateKey? = nil
    ) -> TLSConfiguration {
        TLSConfiguration(role: .client, certificateChain: certificateChain, privateKey: privateKey, trustRoots: trustRoots)
    }

    /// Creates a configuration; prefer ``server(certificateChain:privateKey:trustRoots:clientAuthentication:revocationList:)``
    /// or ``client(trustRoots:certificateChain:privateKey:)``.
    public init(role: Role, certificateChain: [Certificate], privateKey: PrivateKey?, trustRoots: [Certificate]) {
        self.role = role
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.trustRoots = trustRoots
    }

    /// Checks the fields that must agree, naming the first bad one.
    func validate() throws(TLSError) {
        if role == .server && (certificateChain.isEmpty || privateKey == nil) {
            throw TLSError(.invalidConfiguration, "certificateChain and privateKey: a server needs both")
        }
        if certificateChain.isEmpty != (privateKey == nil) {
            throw TLSError(.invalidConfiguration, "certificateChain and privateKey: give both or neither")
        }
        if minimumProtocolVersion > maximumProtocolVersion {
            throw TLSError(.invalidConfiguration, "minimumProtocolVersion is above maximumProtocolVersion")
        }
        if trustRoots.isEmpty && (role == .client ? verifyPeer : clientAuthentication != .none) {
            throw TLSError(.invalidConfiguration, "trustRoots: peer verification needs at least one trusted certificate")
        }
        if groups.isEmpty {
            throw TLSError(.invalidConfiguration, "groups: at least one key-exchange group is needed")
        }
        for name in applicationProtocols where name.utf8.isEmpty || name.utf8.count > 255 {
            throw TLSError(.invalidConfiguration, "applicationProtocols: '\(name)' must be 1...255 bytes")
        }
        if maximumBufferedBytesBeforeHandshake < 0 {
            throw TLSError(.invalidConfiguration, "maximumBufferedBytesBeforeHandshake must not be negative")
        }
    }
}
