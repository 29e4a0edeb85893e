import Testing
import FleetWire

/// The CRC-32C fast paths (carry-less folding, three interleaved chains joined by shift tables) and
/// the scan against plain references.
@Suite("checksum and scan")
struct ChecksumAndScanTests {
    /// Bit by bit, straight from the definition (reflected 0x82F63B78, init and final XOR all ones).
    static func referenceCRC(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test("CRC-32C matches the definition at every block boundary and alignment")
    func crcMatchesReference() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        var random = TestRandom(seed: 0xC4C)
        let bytes = (0..<40_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        // Around 256 (where folding starts), 3 × 256 and 3 × 4096 (where the interleaved chains start), and odd tails.
        let lengths = [0, 1, 7, 8, 9, 255, 256, 257, 511, 512, 767, 768, 769, 1_536, 1_543, 12_287, 12_288, 12_289, 13_057, 24_576, 30_001, 39_992]
        for length in lengths {
            for offset in [0, 1, 3, 7] {
                let slice = bytes[offset..<(offset + length)]
                #expect(CRC32C.checksum(slice) == Self.referenceCRC(slice), "length \(length) at offset \(offset)")
            }
        }
    }

    @Test("a scanned container carries what the decoder reads, and the squared norm of each tensor", arguments: 0..<4)
    func scanMatchesDecode(encoding: Int) throws {
        let delta = Fixtures.sampleDelta(encoding: encoding, seed: 11)
        let bytes = try DeltaCodec.encode(delta)
        let scanned = try DeltaCodec.scan(bytes)
        #expect(scanned.materialize() == delta)
        #expect(scanned.families == delta.metadata.families)
        for (position, tensor) in delta.tensors.enumerated() {
            let dense = tensor.denseValues()
            let expected = dense.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(scanned.tensors[position].squaredNorm - expected) <= 1e-6 * max(expected, 1))
            #expect(scanned.tensors[position].shape == tensor.shape)
            var sum = [Float](repeating: 1, count: tensor.elementCount)
            sum.withUnsafeMutableBufferPointer { scanned.accumulate(position, scaledBy: 2, into: $0) }
            #expect(sum == dense.map { 1 + 2 * $0 })
        }
    }

    /// Shapes and densities that take every path of the sparse kernels: one-byte
    /// gaps sixteen at a time, longer varints and zero-gap starts one at a
    /// time, sixteen indices within sixteen rows (one load) or spread wider
    /// (a gather), rows of one column, vectors, and counts that are not a
    /// multiple of sixteen.
    static let sparseCases: [(shape: [Int], density: Double)] = [
        ([128, 64], 0.2), ([128, 64], 0.9), ([128, 64], 0.01), ([3_000, 1], 0.5), ([1_000], 0.3),
        ([5, 7, 11], 0.4), ([40, 1_000], 0.002), ([2, 70_000], 0.05), ([17, 3], 1.0),
    ]

    @Test("sparse and dense payloads scan, decode and fold as their plain values", arguments: 0..<9)
    func sparsePaths(caseIndex: Int) throws {
        let (shape, density) = Self.sparseCases[caseIndex]
        var random = TestRandom(seed: 0x5CA7 + UInt64(caseIndex))
        let elements = shape.reduce(1, *)
        let rows = shape.count == 1 ? 1 : shape[0]
        let indices = (0..<elements).filter { _ in Double.random(in: 0..<1, using: &random) < density }.map { UInt32($0) }
        let scales = (0..<rows).map { _ in Float.random(in: 0...0.1, using: &random) }
        for payload in [
            TensorPayload.sparseInt8(scales: scales, indices: indices, values: indices.map { _ in Int8.random(in: -127...127, using: &random) }),
            TensorPayload.sparse(indices: indices, values: indices.map { _ in Float.random(in: -1...1, using: &random) }),
            // Dense too: the checksum-and-squares pass and the fold's blocks and masked tails.
            TensorPayload.dense((0..<elements).map { _ in Float.random(in: -1...1, using: &random) }),
        ] {
            var delta = Fixtures.sampleDelta(encoding: 0, seed: 5)
            delta.tensors = [TensorDelta(name: "experts.2.fc1.weight", shape: shape, payload: payload)]
            let scanned = try DeltaCodec.scan(DeltaCodec.encode(delta))
            #expect(scanned.materialize() == delta)
            let dense = delta.tensors[0].denseValues()
            let expected = dense.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(scanned.tensors[0].squaredNorm - expected) <= 1e-6 * max(expected, 1))
            var sum = [Float](repeating: 1, count: elements)
            sum.withUnsafeMutableBufferPointer { scanned.accumulate(0, scaledBy: 0.5, into: $0) }
            #expect(sum == dense.map { 1 + 0.5 * $0 })
        }
    }

    @Test("metadata outside the canonical form still decodes, through JSONDecoder")
    func nonCanonicalMetadata() throws {
        var delta = Fixtures.sampleDelta(encoding: 0, seed: 3)
        delta.metadata = DeltaMetadata(families: ["é-accent", "fog"], samples: 12, captures: 2, metrics: ["a": 1e-300, "b": -0.5])
        let scanned = try DeltaCodec.scan(DeltaCodec.encode(delta))
        #expect(scanned.metadata == delta.metadata)
        #expect(scanned.families == delta.metadata.families)
    }
}
