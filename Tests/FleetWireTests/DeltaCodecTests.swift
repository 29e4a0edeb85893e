import Foundation
import Testing
import FleetWire

/// A small deterministic generator so every test input is reproducible.
struct TestRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    static func sampleDelta(encoding: Int, seed: UInt64 = 1) -> PolicyDelta {
        var random = TestRandom(seed: seed)
        let shape = [8, 16]
        let count = 128
        let indices = (0..<count).filter { _ in Bool.random(using: &random) }.map { UInt32($0) }
        let payload: TensorPayload
        switch encoding {
        case 0: payload = .dense((0..<count).map { _ in Float.random(in: -1...1, using: &random) })
        case 1: payload = .sparse(indices: indices, values: indices.map { _ in Float.random(in: -1...1, using: &random) })
        case 2:
            payload = .denseInt8(
                scales: (0..<8).map { _ in Float.random(in: 0...0.1, using: &random) },
                values: (0..<count).map { _ in Int8.random(in: -127...127, using: &random) }
            )
        default:
            payload = .sparseInt8(
                scales: (0..<8).map { _ in Float.random(in: 0...0.1, using: &random) },
                indices: indices,
                values: indices.map { _ in Int8.random(in: -127...127, using: &random) }
            )
        }
        return PolicyDelta(
            architecture: "moe-64x8x128-top2-a6",
            baseVersion: 12,
            round: 3,
            nodeID: "coastal-07",
            tensors: [
                TensorDelta(name: "experts.2.fc1.weight", shape: shape, payload: payload),
                TensorDelta(name: "experts.2.fc1.bias", shape: [16], payload: .dense((0..<16).map { Float($0) / 16 })),
            ],
            routingCounts: [0, 0, 812, 0, 0, 0, 0, 188],
            metadata: DeltaMetadata(families: ["fog"], samples: 1_000, captures: 1, metrics: ["failure_rate_before": 0.4])
        )
    }
}

@Suite("delta container")
struct DeltaCodecTests {
    @Test("every encoding round-trips exactly", arguments: 0..<4)
    func roundTrip(encoding: Int) throws {
        let delta = Fixtures.sampleDelta(encoding: encoding)
        let decoded = try DeltaCodec.decode(DeltaCodec.encode(delta))
        #expect(decoded == delta)
        let viaZstd = try DeltaCodec.decodeCompressed(DeltaCodec.encodeCompressed(delta))
        #expect(viaZstd == delta)
    }

    @Test("tensors are kept sorted by name, as the format requires")
    func tensorsSorted() {
        let delta = Fixtures.sampleDelta(encoding: 0)
        #expect(delta.tensors.map(\.name) == ["experts.2.fc1.bias", "experts.2.fc1.weight"])
    }

    @Test("a checksum mismatch is caught")
    func checksum() throws {
        var bytes = try DeltaCodec.encode(Fixtures.sampleDelta(encoding: 1))
        // Flip a bit inside the metadata JSON's sample count digits region: still
        // parses, so only the checksum can notice.
        let metadataStart = bytes.count - 4 - 10
        bytes[metadataStart] ^= 0x01
        #expect {
            try DeltaCodec.decode(bytes)
        } throws: { error in
            let code = (error as? FleetWireError)?.code
            return code == .checksumMismatch || code == .invalidMetadata
        }
        var tampered = try DeltaCodec.encode(Fixtures.sampleDelta(encoding: 0))
        tampered[tampered.count - 1] ^= 0xFF
        #expect(throws: FleetWireError(.checksumMismatch, "")) { try DeltaCodec.decode(tampered) }
    }

    @Test("malformed containers give the error that names their problem")
    func typedErrors() throws {
        let good = try DeltaCodec.encode(Fixtures.sampleDelta(encoding: 0))
        #expect(throws: FleetWireError(.truncated, "")) { try DeltaCodec.decode(Array(good.prefix(40))) }
        #expect(throws: FleetWireError(.badMagic, "")) { try DeltaCodec.decode(Array("PUT /v1/updates HTTP/1.1".utf8)) }
        var version = good
        version[8] = 9
        #expect(throws: FleetWireError(.unsupportedVersion, "")) { try DeltaCodec.decode(version) }
        #expect(throws: FleetWireError(.trailingBytes, "")) { try DeltaCodec.decode(good + [0]) }
        let tight = DeltaLimits(maxElementsPerTensor: 64)
        #expect(throws: FleetWireError(.limitExceeded, "")) { try DeltaCodec.decode(good, limits: tight) }
        #expect(throws: FleetWireError(.compressedSizeLimitExceeded, "")) {
            try DeltaCodec.decodeCompressed(Zstd.compress(good), limits: DeltaLimits(maxCompressedBytes: 16))
        }
    }

    @Test("NaN and infinity are refused on both sides of the wire")
    func nonFinite() throws {
        var delta = Fixtures.sampleDelta(encoding: 0)
        delta.tensors[0].payload = .dense((0..<16).map { $0 == 5 ? .nan : 0 })
        #expect(throws: FleetWireError(.nonFiniteValue, "")) { try DeltaCodec.encode(delta) }
        // Write a NaN into valid bytes by hand: the decoder must refuse it too.
        let good = try DeltaCodec.encode(Fixtures.sampleDelta(encoding: 0))
        let nanBits: [UInt8] = [0x00, 0x00, 0xC0, 0x7F]
        let firstValue = try #require(firstDenseValueOffset(in: good))
        var bad = good
        bad.replaceSubrange(firstValue..<firstValue + 4, with: nanBits)
        let body = Array(bad.dropLast(4))
        bad = body + withUnsafeBytes(of: CRC32C.checksum(body).littleEndian) { Array($0) }
        #expect(throws: FleetWireError(.nonFiniteValue, "")) { try DeltaCodec.decode(bad) }
    }

    @Test("sparse indices must increase and stay in range")
    func badIndices() {
        let outOfRange = PolicyDelta(
            architecture: "a", baseVersion: 0, round: 0, nodeID: "n",
            tensors: [TensorDelta(name: "w", shape: [4], payload: .sparse(indices: [1, 4], values: [1, 2]))],
            routingCounts: [], metadata: DeltaMetadata()
        )
        #expect(throws: FleetWireError(.invalidIndex, "")) { try DeltaCodec.encode(outOfRange) }
        let repeated = PolicyDelta(
            architecture: "a", baseVersion: 0, round: 0, nodeID: "n",
            tensors: [TensorDelta(name: "w", shape: [4], payload: .sparse(indices: [2, 2], values: [1, 2]))],
            routingCounts: [], metadata: DeltaMetadata()
        )
        #expect(throws: FleetWireError(.invalidIndex, "")) { try DeltaCodec.encode(repeated) }
    }

    @Test("int8 payloads decode to q × row scale")
    func int8Values() throws {
        let tensor = TensorDelta(
            name: "w", shape: [2, 2],
            payload: .sparseInt8(scales: [0.5, 2], indices: [1, 2], values: [-4, 3])
        )
        #expect(tensor.denseValues() == [0, -2, 6, 0])
    }

    @Test("CRC-32C matches its published check value")
    func crcCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// The offset of the first float of the first dense tensor block
    /// (`experts.2.fc1.bias`, which sorts first), found from the header layout.
    private func firstDenseValueOffset(in bytes: [UInt8]) -> Int? {
        let name = Array("experts.2.fc1.bias".utf8)
        guard let start = (0..<(bytes.count - name.count)).first(where: { Array(bytes[$0..<$0 + name.count]) == name }) else {
            return nil
        }
        return start + name.count + 1 + 1 + 4 + 1  // role, rank, one dim, encoding
    }
}
