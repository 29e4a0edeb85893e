import Testing
import FleetWire

/// Feeds the decoder mutated and random containers: each must come back as a
/// delta or as a `FleetWireError`, never a crash or another error type.
@Suite("delta decoder fuzzing")
struct DeltaFuzzTests {
    static let seeds = (0..<4).map { try! DeltaCodec.encode(Fixtures.sampleDelta(encoding: $0, seed: UInt64($0))) }

    @Test("100,000 mutated and random containers give only typed errors")
    func fuzz() throws {
        var random = TestRandom(seed: 0xF1EE7)
        var decoded = 0
        var rejected: [FleetWireError.Code: Int] = [:]
        let limits = DeltaLimits(maxDecompressedBytes: 1 << 20, maxElementsPerTensor: 1 << 16, maxTotalElements: 1 << 17)
        for iteration in 0..<100_000 {
            let input = mutate(Self.seeds[iteration % Self.seeds.count], iteration: iteration, random: &random)
            do {
                let delta = try DeltaCodec.decode(input, limits: limits)
                decoded += 1
                // Whatever the decoder accepts is well formed: it re-encodes and
                // decodes to the same delta.
                #expect(try DeltaCodec.decode(DeltaCodec.encode(delta), limits: limits) == delta)
            } catch {
                rejected[error.code, default: 0] += 1
            }
        }
        // Most mutations must be caught, and by more than one kind of check.
        // (Mutations of values behind a repaired checksum can be valid deltas.)
        #expect(decoded < 10_000)
        #expect(rejected.keys.count >= 6)
        #expect(rejected[.checksumMismatch, default: 0] > 0)
    }

    @Test("random bytes through zstd decoding give only typed errors")
    func fuzzCompressed() {
        var random = TestRandom(seed: 77)
        let compressed = Self.seeds.map { try! Zstd.compress($0) }
        for iteration in 0..<5_000 {
            var input = compressed[iteration % compressed.count]
            let flips = Int.random(in: 1...4, using: &random)
            for _ in 0..<flips {
                input[Int.random(in: 0..<input.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            do {
                _ = try DeltaCodec.decodeCompressed(input, limits: DeltaLimits(maxDecompressedBytes: 1 << 20))
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    /// One of several mutation strategies, chosen by iteration.
    private func mutate(_ seed: [UInt8], iteration: Int, random: inout TestRandom) -> [UInt8] {
        var bytes = seed
        switch iteration % 6 {
        case 0:  // flip random bits
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            }
        case 1:  // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
        case 2:  // overwrite a field-sized run with extreme values
            let at = Int.random(in: 0..<bytes.count, using: &random)
            let value: UInt8 = Bool.random(using: &random) ? 0xFF : 0x00
            for index in at..<min(bytes.count, at + 4) { bytes[index] = value }
        case 3:  // mutate, then fix the checksum so deeper checks run
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                bytes[Int.random(in: 0..<(bytes.count - 4), using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            let body = Array(bytes.dropLast(4))
            bytes = body + withUnsafeBytes(of: CRC32C.checksum(body).littleEndian) { Array($0) }
        case 4:  // random bytes behind a valid magic and version
            let length = Int.random(in: 0..<512, using: &random)
            bytes = Array(seed.prefix(12)) + (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
        default:  // pure noise
            bytes = (0..<Int.random(in: 0..<256, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        return bytes
    }
}
