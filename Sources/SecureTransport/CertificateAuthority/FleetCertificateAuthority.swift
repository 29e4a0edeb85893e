import Foundation
import COpenSSL

/// The fleet's certificate authority: a self-signed CA certificate and its key,
/// issuing the coordinator's server certificate and one client certificate per node.
///
/// Why our own CA: nodes and the coordinator trust only each other, never the
/// public web PKI. A node certificate names its node in the SAN URI
/// `fleet://node/<id>`, which is how the coordinator learns who is connected;
/// revoking a node adds its serial to the revocation list the server checks on
/// every new connection. The PEM files are ordinary X.509 that `openssl` and
/// `curl` accept.
public struct FleetCertificateAuthority: Sendable {
    /// The CA certificate (the fleet's trust root).
    public let certificate: Certificate
    /// The CA's private key. Keep it on the coordinator only.
    public let privateKey: PrivateKey

    /// Loads an existing CA.
    public init(certificate: Certificate, privateKey: PrivateKey) throws(TLSError) {
        guard X509_check_private_key(certificate.pointer, privateKey.pointer) == 1 else {
            throw TLSError.drained(.invalidKey, "the CA private key does not match the CA certificate")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// Loads an existing CA from PEM files.
    public init(certificateFile: String, keyFile: String) throws(TLSError) {
        try self.init(certificate: Certificate(pemFile: certificateFile), privateKey: PrivateKey(pemFile: keyFile))
    }

    /// Creates a new CA with a fresh key.
    /// - Parameters:
    ///   - commonName: The CA's name, e.g. `Fleet Learning CA`.
    ///   - algorithm: The key type (P-256 is accepted everywhere; Ed25519 is smaller).
    ///   - validity: Default ten years.
    public static func create(
        commonName: String = "Fleet Learning CA",
        algorithm: PrivateKey.Algorithm = .p256,
        validity: CertificateValidity = .days(3650)
    ) throws(TLSError) -> FleetCertificateAuthority {
        let key = try PrivateKey(generating: algorithm)
        let builder = CertificateBuilder(commonName: commonName, validity: validity, extensions: [
            (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
            (NID_key_usage, "critical,keyCertSign,cRLSign"),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid:always"),
        ])
        return try FleetCertificateAuthority(certificate: builder.build(subjectKey: key, issuer: nil), privateKey: key)
    }

    /// Writes the CA certificate (0644) and key (0600) as PEM files.
    public func write(certificateFile: String, keyFile: String) throws(TLSError) {
        try IssuedCertificate(certificate: certificate, privateKey: privateKey)
            .write(certificateFile: certificateFile, keyFile: keyFile)
    }

    /// Issues the coordinator's server certificate for host names and IP addresses.
    /// - Throws: `invalidConfiguration` when no name is given or one is malformed.
    public func issueServerCertificate(
        commonName: String? = nil,
        dnsNames: [String],
        ipAddresses: [String] = [],
        algorithm: PrivateKey.Algorithm = .p256,
        validity: CertificateValidity = .days(825)
    ) throws(TLSError) -> IssuedCertificate {
        guard !(dnsNames.isEmpty && ipAddresses.isEmpty) else {
            throw TLSError(.invalidConfiguration, "dnsNames/ipAddresses: a server certificate needs at least one name")
        }
        for name in dnsNames where !Self.isValidDNSName(name) {
            throw TLSError(.invalidConfiguration, "dnsNames: '\(name)' is not a valid host name")
        }
        for address in ipAddresses where !TLSEngine.isIPAddress(address) {
            throw TLSError(.invalidConfiguration, "ipAddresses: '\(address)' is not an IPv4 or IPv6 address")
        }
        let names = dnsNames.map { "DNS:" + $0 } + ipAddresses.map { "IP:" + $0 }
        return try issue(
            commonName: commonName ?? dnsNames.first ?? ipAddresses[0],
            extendedKeyUsage: "serverAuth",
            subjectAltName: names.joined(separator: ","),
            algorithm: algorithm, validity: validity
        )
    }

    /// Issues a node's client certificate naming it by `fleet://node/<nodeID>`.
    /// - Throws: `invalidConfiguration` when the node id has characters outside `A-Z a-z 0-9 . _ -`.
    public func issueNodeCertificate(
        nodeID: String,
        algorithm: PrivateKey.Algorithm = .p256,
        validity: CertificateValidity = .days(365)
    ) throws(TLSError) -> IssuedCertificate {
        guard NodeIdentity.isValidNodeID(nodeID) else {
            throw TLSError(.invalidConfiguration, "nodeID: '\(nodeID)' must be 1...128 characters of A-Z a-z 0-9 . _ -")
        }
        return try issue(
            commonName: "node " + nodeID,
            extendedKeyUsage: "clientAuth",
            subjectAltName: "URI:" + NodeIdentity.uri(forNodeID: nodeID),
            algorithm: algorithm, validity: validity
        )
    }

    private func issue(
        commonName: String, extendedKeyUsage: String, subjectAltName: String,
        algorithm: PrivateKey.Algorithm, validity: CertificateValidity
    ) throws(TLSError) -> IssuedCertificate {
        let key = try PrivateKey(generating: algorithm)
        let builder = CertificateBuilder(commonName: commonName, validity: validity, extensions: [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, extendedKeyUsage),
            (NID_subject_alt_name, subjectAltName),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid:always"),
        ])
        let certificate = try builder.build(subjectKey: key, issuer: (self.certificate, privateKey))
        return IssuedCertificate(certificate: certificate, privateKey: key)
    }

    /// Adds a certificate's serial to a revocation list file (created if missing).
    ///
    /// Servers watching the file with a ``RevocationList`` refuse the certificate
    /// on their next new connection.
    public static func revoke(_ certificate: Certificate, listFile: String, note: String? = nil) throws(TLSError) {
        try revoke(serialHex: certificate.serialNumberHex, listFile: listFile, note: note ?? certificate.nodeID.map { "node " + $0 })
    }

    /// Adds a serial (hexadecimal) to a revocation list file (created if missing).
    public static func revoke(serialHex: String, listFile: String, note: String? = nil) throws(TLSError) {
        let serial = serialHex.hasPrefix("serial=") ? String(serialHex.dropFirst(7)) : serialHex
        guard !serial.isEmpty, serial.allSatisfy(\.isHexDigit) else {
            throw TLSError(.invalidConfiguration, "serial: '\(serialHex)' is not hexadecimal")
        }
        var existing = (FileIO.stamp(listFile) == nil) ? "" : try FileIO.readText(listFile)
        if RevocationList.parse(existing).contains(RevocationList.normalize(serial)) { return }
        if !existing.isEmpty && !existing.hasSuffix("\n") { existing += "\n" }
        existing += RevocationList.normalize(serial) + (note.map { "  # " + $0 } ?? "") + "\n"
        try FileIO.write(existing, to: listFile, mode: 0o644)
    }

    /// Whether `name` is a plausible DNS host name (labels of letters, digits, hyphens; optional leading `*.`).
    static func isValidDNSName(_ name: String) -> Bool {
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.first == "*" { labels.removeFirst() }
        guard !labels.isEmpty, name.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
