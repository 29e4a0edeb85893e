import Foundation
import Testing
@testable import SecureTransport

/// The fleet CA's files are ordinary X.509 that openssl accepts, with keys kept private.
@Suite("Fleet certificate authority")
struct CertificateAuthorityTests {
    let pki = TestPKI.shared

    @Test("openssl verify accepts the server and node certificates, and rejects the foreign one")
    func opensslVerifies() async throws {
        guard let openssl = ExternalTool.find("openssl") else {
            print("skipped: the openssl binary is not installed"); return
        }
        let good = try await ExternalTool.run(openssl, [
            "verify", "-CAfile", pki.path("ca.pem"), pki.path("server.pem"), pki.path("node.pem"),
        ])
        #expect(good.status == 0, "\(good.all)")
        #expect(good.stdout.contains("server.pem: OK") && good.stdout.contains("node.pem: OK"))
        let foreign = try await ExternalTool.run(openssl, ["verify", "-CAfile", pki.path("ca.pem"), pki.path("foreign.pem")])
        #expect(foreign.status != 0)
        let text = try await ExternalTool.run(openssl, ["x509", "-in", pki.path("node.pem"), "-noout", "-ext", "subjectAltName"])
        #expect(text.stdout.contains("URI:fleet://node/car-7"))
    }

    @Test("private keys are written with mode 0600", arguments: ["ca.key", "server.key", "node.key"])
    func keyMode(_ name: String) throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: pki.path(name))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("certificates and keys survive a PEM round trip, in both key types", arguments: PrivateKey.Algorithm.allCases)
    func pemRoundTrip(_ algorithm: PrivateKey.Algorithm) throws {
        let authority = try FleetCertificateAuthority.create(algorithm: algorithm)
        let node = try authority.issueNodeCertificate(nodeID: "robot-1", algorithm: algorithm)
        let reread = try Certificate(pem: node.certificate.pem)
        #expect(reread.nodeID == "robot-1")
        #expect(reread.serialNumberHex == node.certificate.serialNumberHex)
        #expect(try PrivateKey(pem: node.privateKey.pem).algorithm == algorithm)
        let loaded = try FleetCertificateAuthority(
            certificate: Certificate(pem: authority.certificate.pem), privateKey: PrivateKey(pem: authority.privateKey.pem)
        )
        #expect(loaded.certificate.commonName == "Fleet Learning CA")
    }

    @Test("a server certificate names its hosts and addresses; bad input is refused with the field named")
    func serverCertificate() throws {
        #expect(pki.server.certificate.commonName == "localhost")
        #expect(pki.server.certificate.nodeID == nil)
        #expect(throws: TLSError(.invalidConfiguration, "")) {
            try pki.authority.issueServerCertificate(dnsNames: [], ipAddresses: [])
        }
        #expect(throws: TLSError(.invalidConfiguration, "")) {
            try pki.authority.issueServerCertificate(dnsNames: ["bad name"])
        }
        #expect(throws: TLSError(.invalidConfiguration, "")) {
            try pki.authority.issueServerCertificate(dnsNames: ["ok"], ipAddresses: ["300.1.1.1"])
        }
    }

    @Test("node ids outside the safe alphabet are refused", arguments: ["", "car 7", "car/7", "ü", String(repeating: "a", count: 129)])
    func badNodeID(_ id: String) {
        #expect(throws: TLSError(.invalidConfiguration, "")) { try pki.authority.issueNodeCertificate(nodeID: id) }
    }

    @Test("a CA key that does not match its certificate is refused")
    func mismatchedKey() throws {
        #expect(throws: TLSError(.invalidKey, "")) {
            try FleetCertificateAuthority(certificate: pki.authority.certificate, privateKey: pki.node.privateKey)
        }
    }

    @Test("revocation lists parse openssl's serial format, ignore comments, and normalize case and zeros")
    func revocationParsing() throws {
        let serials = RevocationList.parse("""
            # revoked nodes
            serial=00AB12
            cd34   # node car-2

            not-hex
            """)
        #expect(serials == ["AB12", "CD34"])
        let file = pki.path("revoked-parse.txt")
        try FleetCertificateAuthority.revoke(serialHex: "ab12", listFile: file)
        try FleetCertificateAuthority.revoke(serialHex: "AB12", listFile: file)
        #expect(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").count == 1)
        #expect(RevocationList(path: file).isRevoked(serialHex: "00ab12"))
        #expect(throws: TLSError(.invalidConfiguration, "")) { try FleetCertificateAuthority.revoke(serialHex: "xyz", listFile: file) }
    }

    @Test("configurations that cannot work are refused, naming the field")
    func configurationValidation() {
        var configuration = pki.serverConfiguration()
        configuration.minimumProtocolVersion = .tls13
        configuration.maximumProtocolVersion = .tls12
        #expect(throws: TLSError(.invalidConfiguration, "")) { try TLSContext(configuration: configuration) }
        #expect(throws: TLSError(.invalidConfiguration, "")) {
            try TLSContext(configuration: .server(
                certificateChain: [pki.server.certificate], privateKey: pki.node.privateKey, trustRoots: []
            ))
        }
        #expect(throws: TLSError(.invalidKey, "")) {
            try TLSContext(configuration: .server(
                certificateChain: [pki.server.certificate], privateKey: pki.node.privateKey, trustRoots: [pki.authority.certificate]
            ))
        }
        var groups = pki.serverConfiguration()
        groups.groups = ["NoSuchCurve"]
        #expect(throws: TLSError(.invalidConfiguration, "")) { try TLSContext(configuration: groups) }
    }
}
