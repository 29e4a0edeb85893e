import Foundation
import FleetWire
import SecureTransport

/// The fleet the benchmark plays: an ephemeral CA, the coordinator's
/// certificate and signing key on disk, one client certificate per node,
/// and real EdgeLearner lessons to send.
///
/// Why real lessons: the coordinator's cost per update depends on what an
/// update carries (two experts, top-20 % int8 with per-row scales, about
/// 7.5 KB compressed), so each node sends one of the committed lessons of
/// `Tests/AggregationRobustnessTests/Lessons` (node i sends lesson i mod 9),
/// re-headed with its own node id, the open round and the base version.
struct SimulatedFleet: Sendable {
    let directory: String
    let authority: FleetCertificateAuthority
    /// Client TLS contexts, one per node (`node-00000` …).
    let contexts: [TLSContext]
    let lessons: [PolicyDelta]

    static func nodeID(_ index: Int) -> String { String(format: "node-%05d", index) }

    init(nodes: Int, lessonDirectory: String) throws {
        directory = NSTemporaryDirectory() + "fleet-load-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        authority = try .create(commonName: "Fleet Load Benchmark CA")
        try authority.write(certificateFile: directory + "/ca.pem", keyFile: directory + "/ca.key")
        try authority.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
            .write(certificateFile: directory + "/server.pem", keyFile: directory + "/server.key")
        let signing = try PrivateKey(generating: .ed25519)
        try signing.write(toFile: directory + "/model-signing.key")
        _ = FileManager.default.createFile(atPath: directory + "/revoked.txt", contents: Data())
        var contexts: [TLSContext] = []
        contexts.reserveCapacity(nodes)
        for index in 0..<nodes {
            let issued = try authority.issueNodeCertificate(nodeID: Self.nodeID(index))
            contexts.append(try TLSContext(configuration: .client(
                trustRoots: [authority.certificate], certificateChain: [issued.certificate], privateKey: issued.privateKey
            )))
        }
        self.contexts = contexts
        let files = try FileManager.default.contentsOfDirectory(atPath: lessonDirectory)
            .filter { $0.hasSuffix(".fldelta.zst") }.sorted()
        guard !files.isEmpty else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no *.fldelta.zst lessons in \(lessonDirectory)"])
        }
        lessons = try files.map { name in
            let body = [UInt8](try Data(contentsOf: URL(fileURLWithPath: lessonDirectory + "/" + name)))
            return try DeltaCodec.decodeCompressed(body)
        }
    }

    /// `fleet-coordinator serve` arguments for this fleet's certificates and
    /// keys, on 127.0.0.1 at a free port, with its data in `dataDirectory`.
    func coordinatorArguments(dataDirectory: String) -> [String] {
        [
            "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDirectory,
            "--cert", directory + "/server.pem", "--key", directory + "/server.key", "--ca-cert", directory + "/ca.pem",
            "--revoked", directory + "/revoked.txt", "--signing-key", directory + "/model-signing.key",
        ]
    }

    /// The compressed body node `index` uploads to `round` on `baseVersion`.
    func body(node index: Int, round: UInt64, baseVersion: UInt64) throws -> [UInt8] {
        var delta = lessons[index % lessons.count]
        delta.nodeID = Self.nodeID(index)
        delta.round = round
        delta.baseVersion = baseVersion
        return try DeltaCodec.encodeCompressed(delta)
    }

    func removeFiles() { try? FileManager.default.removeItem(atPath: directory) }
}
