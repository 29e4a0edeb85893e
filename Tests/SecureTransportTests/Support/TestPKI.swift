import Foundation
@testable import SecureTransport

/// A fleet CA with the certificates the tests need, written to a temporary directory.
final class TestPKI: Sendable {
    let directory: String
    let authority: FleetCertificateAuthority
    let server: IssuedCertificate
    let node: IssuedCertificate
    let revokedNode: IssuedCertificate
    let expiredNode: IssuedCertificate
    let foreignNode: IssuedCertificate
    let revocationList: RevocationList

    /// One PKI shared by all tests: key generation is cheap, but there is no reason to repeat it.
    static let shared: TestPKI = try! TestPKI()

    init() throws {
        directory = NSTemporaryDirectory() + "fleet-tls-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        authority = try .create(commonName: "Test Fleet CA")
        server = try authority.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        node = try authority.issueNodeCertificate(nodeID: "car-7")
        revokedNode = try authority.issueNodeCertificate(nodeID: "car-13")
        let past = Date().addingTimeInterval(-10 * 86_400)
        expiredNode = try authority.issueNodeCertificate(
            nodeID: "car-old", validity: CertificateValidity(notBefore: past, notAfter: past.addingTimeInterval(86_400))
        )
        foreignNode = try FleetCertificateAuthority.create(commonName: "Someone Else's CA").issueNodeCertificate(nodeID: "car-7")
        revocationList = RevocationList(path: directory + "/revoked.txt")
        try authority.write(certificateFile: path("ca.pem"), keyFile: path("ca.key"))
        try server.write(certificateFile: path("server.pem"), keyFile: path("server.key"))
        try node.write(certificateFile: path("node.pem"), keyFile: path("node.key"))
        try foreignNode.write(certificateFile: path("foreign.pem"), keyFile: path("foreign.key"))
        try FleetCertificateAuthority.revoke(revokedNode.certificate, listFile: path("revoked.txt"))
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// The server configuration: fleet client certificates required, revocation list watched.
    func serverConfiguration() -> TLSConfiguration {
        .server(
            certificateChain: [server.certificate], privateKey: server.privateKey,
            trustRoots: [authority.certificate], revocationList: revocationList
        )
    }

    /// A client configuration presenting `identity` (or no certificate).
    func clientConfiguration(_ identity: IssuedCertificate?) -> TLSConfiguration {
        .client(
            trustRoots: [authority.certificate],
            certificateChain: identity.map { [$0.certificate] } ?? [],
            privateKey: identity?.privateKey
        )
    }
}
