import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import NIOCore
import PolicyNetwork
@testable import EdgeNode
@testable import SecureTransport

/// A fleet's keys and models for tests: a CA, the coordinator's server
/// certificate, a node certificate (`car-7`), the Ed25519 model-signing key,
/// and signed versions of the committed base policy.
final class TestFleet: Sendable {
    let directory: URL
    let authority: FleetCertificateAuthority
    let server: IssuedCertificate
    let node: IssuedCertificate
    let signingKey: PrivateKey
    let simulator: URL
    let basePolicy: MoEPolicy

    static let shared: TestFleet = try! TestFleet()

    init() throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("fleet-node-tests-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        authority = try .create(commonName: "Test Fleet CA")
        server = try authority.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        node = try authority.issueNodeCertificate(nodeID: "car-7")
        signingKey = try PrivateKey(generating: .ed25519)
        simulator = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Simulator")
        basePolicy = try BasePolicy.load(from: SimulatorContent(root: simulator))
    }

    func serverConfiguration() -> TLSConfiguration {
        .server(certificateChain: [server.certificate], privateKey: server.privateKey, trustRoots: [authority.certificate])
    }

    func clientContext() throws -> TLSContext {
        try TLSContext(configuration: .client(
            trustRoots: [authority.certificate], certificateChain: [node.certificate], privateKey: node.privateKey))
    }

    func connection(port: Int, configure: (inout ConnectionConfiguration) -> Void = { _ in }) throws -> HTTPSCoordinatorConnection {
        var configuration = ConnectionConfiguration(host: "127.0.0.1", port: port)
        // Hang guards, not speed limits: the fake coordinator runs in this
        // process, on the cooperative pool every suite shares; with the whole
        // suite and a fleet-sim beside it on two cores (load 33) one answer
        // took over 30 s. They stay under the suites' 10-minute limit. Tests
        // of timeouts set their own.
        configuration.connectTimeout = .seconds(300)
        configuration.requestTimeout = .seconds(300)
        configure(&configuration)
        return try HTTPSCoordinatorConnection(configuration: configuration, tls: try clientContext())
    }

    var verifier: ModelVerifier { ModelVerifier(signingKey: signingKey.publicKey) }

    /// A fresh, empty data directory.
    func dataDirectory(_ name: String) -> URL {
        let url = directory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Version `version` of the base policy, signed, as the coordinator serves it.
    ///
    /// `perturb` nudges one weight so versions differ.
    func publish(version: UInt64, perturb: Float = 0) throws -> PublishedModel {
        var policy = basePolicy
        if perturb != 0 {
            var parameters = policy.parameterSet()
            let name = parameters.names[0]
            var scalars = parameters[name]!.scalars
            scalars[0] += perturb
            try parameters.replace(name, with: Tensor(shape: parameters.shape(of: name)!, scalars: scalars))
            try policy.load(parameters)
        }
        return try sign(policy, version: version)
    }

    /// Version `version`, made from `parent` (the version before it) by a delta as the
    /// coordinator publishes it: a sparse int8 change to one expert, applied with
    /// ``DeltaPatch``; returns the child as served whole and as the delta a node
    /// holding the parent downloads.
    func publishDelta(version: UInt64, parent: MoEPolicy) throws -> (model: PublishedModel, delta: ModelDeltaDownload, container: PolicyDelta) {
        let name = "experts.1.fc1.weight"
        let shape = parent.parameterSet().shape(of: name)!
        let count = shape.reduce(1, *)
        var change = [Float](repeating: 0, count: count)
        for index in stride(from: 0, to: count, by: 7) { change[index] = Float(index % 5 + 1) * 1e-3 }
        let encoded = TensorCompression.encode(
            name: name, shape: shape, values: change, keep: change.filter { $0 != 0 }.count, quantize: true)
        let container = PolicyDelta(
            architecture: parent.architecture.hash, baseVersion: version - 1, round: version - 1, nodeID: "coordinator",
            tensors: [encoded.tensor], routingCounts: [], metadata: DeltaMetadata())
        let compressed = try DeltaCodec.encodeCompressed(container)
        let child = try DeltaPatch.apply(try DeltaCodec.decodeCompressed(compressed), to: parent)
        let model = try sign(child, version: version)
        let delta = ModelDeltaDownload(
            version: version, parent: version - 1, manifestBytes: model.manifestBytes, signature: model.signature,
            compressedDelta: compressed)
        return (model, delta, container)
    }

    /// `policy` as signed version `version` (parent `version − 1`).
    func sign(_ policy: MoEPolicy, version: UInt64) throws -> PublishedModel {
        let checkpoint = policy.checkpoint()
        let digest = SHA256Digest()
        digest.update(checkpoint)
        let manifest = ModelManifest(
            version: version, parent: version > 1 ? version - 1 : nil, contentHash: "sha256:" + digest.finalizeHex(),
            contentLength: checkpoint.count, architecture: policy.architecture, round: version > 1 ? version - 1 : nil,
            createdAt: "2026-01-01T00:00:00Z")
        let manifestBytes = try manifest.canonicalBytes()
        let signature = try ModelSignature.sign(manifestBytes, with: signingKey)
        return PublishedModel(
            version: version, manifestBytes: manifestBytes, signature: signature,
            compressed: try Zstd.compress(checkpoint), checkpoint: checkpoint)
    }

    /// A small learning configuration: two variations per capture, one DAgger pass, no shrinking.
    static var tinyLearner: EdgeLearner.Configuration {
        var learner = EdgeLearner.Configuration()
        learner.synthesis.count = 2
        learner.synthesis.seconds = 2
        learner.labelling.iterations = 1
        learner.shrinkFactors = []
        learner.shortestStepKeeping = nil
        return learner
    }

    /// An agent configuration for tests: tiny learning, fast polls and backoff.
    func configuration(data: URL, source: EdgeNodeConfiguration.Source = .simulated(region: "highway")) -> EdgeNodeConfiguration {
        var configuration = EdgeNodeConfiguration(
            nodeID: "car-7", dataDirectory: data, source: source, simulatorContent: simulator, seed: 7, learner: Self.tinyLearner)
        configuration.anchorEpisodesPerFamily = 0
        configuration.maxCapturesPerLesson = 2
        configuration.pollWaitSeconds = 1
        configuration.heartbeatInterval = 0.5
        configuration.backoffBase = 0.05
        configuration.backoffCap = 0.25
        configuration.speedup = 200
        return configuration
    }
}

/// A signed model as served.
struct PublishedModel: Sendable {
    var version: UInt64
    var manifestBytes: [UInt8]
    var signature: [UInt8]
    var compressed: [UInt8]
    var checkpoint: [UInt8]

    var download: ModelDownload {
        ModelDownload(version: version, manifestBytes: manifestBytes, signature: signature, compressedCheckpoint: compressed)
    }
}
