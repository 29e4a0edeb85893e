import Foundation
import SecureTransport

/// A fleet CA, the coordinator's certificate, three nodes, one revoked node,
/// an operator and a model-signing key, written to a temporary directory.
final class TestPKI: Sendable {
    let directory: String
    let authority: FleetCertificateAuthority
    let server: IssuedCertificate
    let revocationList: RevocationList

    static let shared: TestPKI = try! TestPKI()

    init() throws {
        directory = NSTemporaryDirectory() + "coord-pki-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        authority = try .create(commonName: "Coordinator Test CA")
        server = try authority.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        revocationList = RevocationList(path: directory + "/revoked.txt")
        try authority.write(certificateFile: path("ca.pem"), keyFile: path("ca.key"))
        try server.write(certificateFile: path("server.pem"), keyFile: path("server.key"))
        for node in ["car-1", "car-2", "car-3", "car-13", "ops"] {
            try authority.issueNodeCertificate(nodeID: node).write(certificateFile: path("\(node).pem"), keyFile: path("\(node).key"))
        }
        try FleetCertificateAuthority.revoke(try Certificate(pemFile: path("car-13.pem")), listFile: path("revoked.txt"))
        let signing = try PrivateKey(generating: .ed25519)
        try signing.write(toFile: path("model-signing.key"))
        try Data(signing.publicKey.pem.utf8).write(to: URL(fileURLWithPath: path("model-signing.pub")))
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func serverConfiguration() -> TLSConfiguration {
        .server(certificateChain: [server.certificate], privateKey: server.privateKey, trustRoots: [authority.certificate])
    }

    /// curl arguments presenting `node`'s certificate (or none) and trusting the CA.
    func curlIdentity(_ node: String?) -> [String] {
        var arguments = ["--cacert", path("ca.pem")]
        if let node { arguments += ["--cert", path("\(node).pem"), "--key", path("\(node).key")] }
        return arguments
    }
}
