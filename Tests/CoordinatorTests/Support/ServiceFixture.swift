import Aggregation
import Metrics
import Foundation
import Logging
import Synchronization
import Coordinator
import DrivingSimulator
import FleetEvaluation
import FleetWire
import PolicyNetwork
import SecureTransport

/// A clock tests move by hand; waits still sleep for real (briefly), so a
/// long poll can be woken by an event.
final class ManualClock: CoordinatorClock {
    private let time = Mutex(1_800_000_000.0)
    /// Whether waits end by themselves (briefly); if not, only an event or cancellation ends them.
    let waitsEnd: Bool

    init(waitsEnd: Bool = true) { self.waitsEnd = waitsEnd }

    func now() -> Double { time.withLock { $0 } }
    func advance(by seconds: Double) { time.withLock { $0 += seconds } }
    func sleep(seconds: Double) async throws {
        try await Task.sleep(for: .seconds(waitsEnd ? min(seconds, 5) : 3_600))
    }
}

/// What every coordinator test needs: the committed base policy, a fast gate
/// and a signing key, all loaded once.
enum Fixture {
    static let content = SimulatorContent.locate(from: URL(fileURLWithPath: #filePath))!
    static let basePolicy: MoEPolicy = try! BasePolicy.load(from: content)
    static let signingKey: PrivateKey = try! PrivateKey(generating: .ed25519)
    /// One gold episode of two families: the gate still compares like with like, in a second or two.
    static let gateSelection = CoordinatorConfiguration.GateSuite(episodesPerFamily: 1, families: ["cut-in", "fog"])
    /// With one episode per family no loss is past chance at 0.05; at 1 each family's test runs at ½, so any net loss is a regression.
    static let strictGate = RegressionGate.Configuration(falseRejectionRate: 1)
    static let gate: RegressionGate = try! RegressionGate.make(
        content: content, configuration: strictGate, selection: gateSelection
    )

    static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("coord-\(name)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func configuration(
        directory: URL, rounds: RoundConfiguration = RoundConfiguration(minParticipants: 2, quorumFraction: 1, minUpdates: 1, deadline: 60),
        gate: RegressionGate.Configuration = Fixture.strictGate, aggregation: AggregationConfiguration = .init()
    ) -> CoordinatorConfiguration {
        CoordinatorConfiguration(
            dataDirectory: directory, rounds: rounds, aggregation: aggregation, gate: gate, gateSuite: gateSelection,
            deltaLimits: deltaLimits
        )
    }

    /// Tight bounds (test deltas are a few KB), so a bomb is refused after 4 MiB of work.
    static let deltaLimits = DeltaLimits(maxCompressedBytes: 1 << 20, maxDecompressedBytes: 4 << 20)

    static func service(
        _ configuration: CoordinatorConfiguration, clock: any CoordinatorClock = ManualClock(), gate: RegressionGate = Fixture.gate,
        metrics: CoordinatorMetrics = CoordinatorMetrics(factory: NOOPMetricsHandler.instance)
    ) async throws -> CoordinatorService {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await CoordinatorService(
            configuration: configuration, initialModel: { basePolicy }, signingKey: signingKey,
            gate: gate, clock: clock, metrics: metrics, logger: logger
        )
    }

    /// A small, valid update from `node`: a nudge of expert 0's output bias.
    static func delta(
        node: String, round: UInt64, baseVersion: UInt64 = 1, scale: Float = 1e-4,
        name: String = "experts.0.fc2.bias", shape: [Int]? = nil, values: [Float]? = nil
    ) -> PolicyDelta {
        let layout = ModelLayout(policy: basePolicy)
        let shape = shape ?? layout[name]!.shape
        let count = shape.reduce(1, *)
        return PolicyDelta(
            architecture: basePolicy.architecture.hash, baseVersion: baseVersion, round: round, nodeID: node,
            tensors: [TensorDelta(name: name, shape: shape, payload: .dense(values ?? (0..<count).map { Float($0 % 3) * scale }))],
            routingCounts: [UInt64](repeating: 10, count: layout.expertCount),
            metadata: DeltaMetadata(families: ["fog"], samples: 100, captures: 1)
        )
    }

    /// A well-formed update whose routing counts sum past 2⁶⁴ (`[2⁶⁴−1, 1, 0, …]`):
    /// it once passed validation and trapped the fold, on every restart again.
    static func poison(node: String, round: UInt64, baseVersion: UInt64 = 1) -> PolicyDelta {
        var delta = delta(node: node, round: round, baseVersion: baseVersion)
        delta.routingCounts = [UInt64.max, 1] + [UInt64](repeating: 0, count: delta.routingCounts.count - 2)
        return delta
    }

    static func body(_ delta: PolicyDelta) -> [UInt8] {
        try! DeltaCodec.encodeCompressed(delta)
    }

    /// A valid update whose one value is NaN (the checksum recomputed, so only the NaN is wrong).
    static func nanBody(node: String, round: UInt64) -> [UInt8] {
        let marker: Float = 12_345.5
        let delta = Self.delta(node: node, round: round, values: [marker] + [Float](repeating: 0, count: ModelLayout(policy: basePolicy)["experts.0.fc2.bias"]!.elementCount - 1))
        var bytes = try! DeltaCodec.encode(delta)
        let pattern = withUnsafeBytes(of: marker.bitPattern.littleEndian, Array.init)
        let at = (0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == pattern }!
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init)
        bytes.replaceSubrange(at..<(at + 4), with: nan)
        let crc = CRC32C.checksum(bytes[..<(bytes.count - 4)])
        bytes.replaceSubrange((bytes.count - 4)..., with: withUnsafeBytes(of: crc.littleEndian, Array.init))
        return try! Zstd.compress(bytes)
    }

    /// A zstd frame that expands to `size` zero bytes (a decompression bomb when large).
    static func bomb(size: Int = 256 << 20) -> [UInt8] {
        // Identical 1 MiB frames concatenate into one valid stream; each
        // declares a harmless size, only the total is past every limit.
        let frame = try! Zstd.compress([UInt8](repeating: 0, count: 1 << 20), level: 19)
        return Array((0..<(size >> 20)).map { _ in frame }.joined())
    }
}
