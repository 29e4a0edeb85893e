public import ArgumentParser
import Foundation
import SecureTransport

/// `fleet-coordinator certs`: the fleet CA's command line (create-ca,
/// issue-server, issue-node, revoke, create-signing-key).
///
/// Thin on purpose: every subcommand parses its flags and calls one
/// ``FleetCertificateAuthority`` (or ``PrivateKey``) function.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the fleet CA, issue server and node certificates, revoke nodes, create the model-signing key.",
        subcommands: [CreateCA.self, IssueServer.self, IssueNode.self, Revoke.self, CreateSigningKey.self]
    )
}

/// Where the CA's files are.
struct CAOptions: ParsableArguments {
    @Option(help: "CA certificate (PEM).") var caCert = "ca.pem"
    @Option(help: "CA private key (PEM, mode 0600).") var caKey = "ca.key"

    func load() throws -> FleetCertificateAuthority {
        try FleetCertificateAuthority(certificateFile: caCert, keyFile: caKey)
    }
}

extension PrivateKey.Algorithm: ExpressibleByArgument {}

struct CreateCA: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-ca", abstract: "Create a new fleet CA.")
    @OptionGroup var ca: CAOptions
    @Option(help: "The CA's common name.") var name = "Fleet Learning CA"
    @Option(help: "Key type: p256 or ed25519.") var algorithm = PrivateKey.Algorithm.p256
    @Option(help: "Days of validity.") var days = 3650

    func run() throws {
        let authority = try FleetCertificateAuthority.create(commonName: name, algorithm: algorithm, validity: .days(days))
        try authority.write(certificateFile: ca.caCert, keyFile: ca.caKey)
        print("created CA \(ca.caCert) (key \(ca.caKey), serial \(authority.certificate.serialNumberHex))")
    }
}

struct IssueServer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue-server", abstract: "Issue the coordinator's server certificate.")
    @OptionGroup var ca: CAOptions
    @Option(name: .customLong("dns"), help: "A DNS name (repeatable).") var dnsNames: [String] = []
    @Option(name: .customLong("ip"), help: "An IP address (repeatable).") var ipAddresses: [String] = []
    @Option(help: "Key type: p256 or ed25519.") var algorithm = PrivateKey.Algorithm.p256
    @Option(help: "Days of validity.") var days = 825
    @Option(help: "Output certificate.") var cert = "server.pem"
    @Option(help: "Output private key (mode 0600).") var key = "server.key"

    func run() throws {
        let issued = try ca.load().issueServerCertificate(
            dnsNames: dnsNames, ipAddresses: ipAddresses, algorithm: algorithm, validity: .days(days)
        )
        try issued.write(certificateFile: cert, keyFile: key)
        print("issued server certificate \(cert) (serial \(issued.certificate.serialNumberHex))")
    }
}

struct IssueNode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue-node", abstract: "Issue a node's client certificate.")
    @OptionGroup var ca: CAOptions
    @Option(help: "The node id (A-Z a-z 0-9 . _ -).") var node: String
    @Option(help: "Key type: p256 or ed25519.") var algorithm = PrivateKey.Algorithm.p256
    @Option(help: "Days of validity.") var days = 365
    @Option(help: "Output certificate (default <node>.pem).") var cert: String?
    @Option(help: "Output private key (default <node>.key, mode 0600).") var key: String?

    func run() throws {
        let issued = try ca.load().issueNodeCertificate(nodeID: node, algorithm: algorithm, validity: .days(days))
        let certFile = cert ?? node + ".pem"
        try issued.write(certificateFile: certFile, keyFile: key ?? node + ".key")
        print("issued node certificate \(certFile) for fleet://node/\(node) (serial \(issued.certificate.serialNumberHex))")
    }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke a node certificate (adds its serial to the revocation list).")
    @Option(help: "The certificate to revoke.") var cert: String?
    @Option(help: "Or: the serial number to revoke (hex).") var serial: String?
    @Option(help: "The revocation list file the server watches.") var list = "revoked.txt"

    func validate() throws {
        guard (cert == nil) != (serial == nil) else { throw ValidationError("give exactly one of --cert or --serial") }
    }

    func run() throws {
        if let cert {
            let certificate = try Certificate(pemFile: cert)
            try FleetCertificateAuthority.revoke(certificate, listFile: list)
            print("revoked serial \(certificate.serialNumberHex) in \(list)")
        } else if let serial {
            try FleetCertificateAuthority.revoke(serialHex: serial, listFile: list)
            print("revoked serial \(serial) in \(list)")
        }
    }
}

struct CreateSigningKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-signing-key",
        abstract: "Create the coordinator's Ed25519 model-signing key (private key 0600, public key for the nodes)."
    )
    @Option(help: "Output private key (PEM, mode 0600).") var key = "model-signing.key"
    @Option(help: "Output public key (PEM); give it to every node (fleet-node --signing-key).") var publicKey = "model-signing.pub"
    @Flag(help: "Replace existing files (every node must then get the new public key).") var force = false

    func run() throws {
        if !force {
            for path in [key, publicKey] where FileManager.default.fileExists(atPath: path) {
                throw ValidationError("\(path) exists; pass --force to replace it")
            }
        }
        let signingKey = try PrivateKey(generating: .ed25519)
        try signingKey.write(toFile: key)
        try Data(signingKey.publicKey.pem.utf8).write(to: URL(fileURLWithPath: publicKey), options: .atomic)
        print("created model-signing key \(key) (public key \(publicKey))")
    }
}
