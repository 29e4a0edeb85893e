import Testing
import FleetWire

@Suite("zstd codec")
struct ZstdTests {
    enum Sample: String, CaseIterable {
        case oneByte, sentence, noise, constant

        var bytes: [UInt8] {
            switch self {
            case .oneByte: [0]
            case .sentence: Array("the fleet learns from every edge case".utf8)
            case .noise: (0..<100_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
            case .constant: [UInt8](repeating: 7, count: 1 << 20)
            }
        }
    }

    @Test("round trip", arguments: Sample.allCases)
    func roundTrip(sample: Sample) throws {
        let bytes = sample.bytes
        let compressed = try Zstd.compress(bytes)
        let restored = try Zstd.decompress(compressed, limit: bytes.count)
        #expect(restored == bytes)
    }

    @Test("a frame that expands past the limit is refused")
    func bombIsRefused() throws {
        let bomb = try Zstd.compress([UInt8](repeating: 0, count: 8 << 20))
        #expect(bomb.count < 2_048)
        #expect(throws: FleetWireError(.decompressedSizeLimitExceeded, "")) {
            try Zstd.decompress(bomb, limit: 1 << 20)
        }
    }

    @Test("a frame without a declared size is still bounded")
    func streamedBombIsRefused() throws {
        // Two frames back to back: the first declares its size honestly, the
        // total is what exceeds the limit.
        let half = try Zstd.compress([UInt8](repeating: 1, count: 600_000))
        #expect(throws: FleetWireError(.decompressedSizeLimitExceeded, "")) {
            try Zstd.decompress(half + half, limit: 1_000_000)
        }
        #expect(try Zstd.decompress(half + half, limit: 1_200_000).count == 1_200_000)
    }

    @Test("truncated and garbage bodies give typed errors")
    func badBodies() throws {
        let compressed = try Zstd.compress(Array(repeating: Array("edge case ".utf8), count: 500).flatMap { $0 })
        #expect(throws: FleetWireError(.truncatedCompressedData, "")) {
            try Zstd.decompress(compressed.dropLast(5), limit: 1 << 20)
        }
        #expect(throws: FleetWireError(.corruptCompressedData, "")) {
            try Zstd.decompress(Array("GET / HTTP/1.1\r\n\r\n".utf8), limit: 1 << 20)
        }
        #expect(throws: FleetWireError(.truncatedCompressedData, "")) {
            try Zstd.decompress([UInt8](), limit: 1 << 20)
        }
    }
}
