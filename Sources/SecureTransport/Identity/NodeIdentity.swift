/// Who is on the other end of a mutually authenticated connection.
///
/// Why: the coordinator must attribute every upload to a node it can trust.
/// The node id is not taken from anything the client says in HTTP; it comes
/// from the verified client certificate's subject alternative name
/// `fleet://node/<id>`, so holding the node's private key is the only way to
/// speak as that node.
public struct NodeIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The node id from the certificate's `fleet://node/<id>` URI.
    public var nodeID: String
    /// The certificate's serial number in upper-case hexadecimal.
    public var certificateSerial: String
    /// The certificate's subject common name, if any.
    public var commonName: String?

    /// Creates an identity.
    public init(nodeID: String, certificateSerial: String, commonName: String? = nil) {
        self.nodeID = nodeID
        self.certificateSerial = certificateSerial
        self.commonName = commonName
    }

    public var description: String { "node \(nodeID) (serial \(certificateSerial))" }

    /// The URI scheme and path prefix of a node identity.
    public static let uriPrefix = "fleet://node/"

    /// The URI naming a node, `fleet://node/<id>`.
    public static func uri(forNodeID nodeID: String) -> String { uriPrefix + nodeID }

    /// The node id in a `fleet://node/<id>` URI, or nil for any other URI.
    public static func nodeID(fromURI uri: String) -> String? {
        guard uri.hasPrefix(uriPrefix) else { return nil }
        let id = uri.dropFirst(uriPrefix.count)
        return isValidNodeID(id) ? String(id) : nil
    }

    /// Whether a node id is 1…128 characters of `A-Z a-z 0-9 . _ -`.
    ///
    /// Why so strict: the id ends up in file names, log lines and URLs; a small
    /// alphabet means no escaping anywhere.
    public static func isValidNodeID(_ id: some StringProtocol) -> Bool {
        guard (1...128).contains(id.utf8.count) else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    /// The identity of the client of the connection the current task is serving.
    ///
    /// Set by ``MutualTLSChannel`` around the handling of each connection, so a
    /// Hummingbird route (or request context initializer) reads it directly.
    @TaskLocal public static var current: NodeIdentity?
}

/// What a completed handshake tells the application about the connection.
public struct TLSConnectionInfo: Sendable, Hashable {
    /// The negotiated protocol version, e.g. `TLSv1.3`.
    public var protocolVersion: String
    /// The negotiated cipher suite, e.g. `TLS_AES_256_GCM_SHA384`.
    public var cipherSuite: String
    /// The protocol chosen by ALPN, if any.
    public var applicationProtocol: String?
    /// The verified peer's node identity (servers requiring fleet client certificates only).
    public var peerIdentity: NodeIdentity?
    /// The verified peer certificate's subject common name, if a certificate was presented.
    public var peerCommonName: String?
}
