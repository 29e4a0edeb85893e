import Foundation
import Testing
@testable import PolicyNetwork

/// The checkpoint format: round trips, strict rejection of malformed files.
@Suite("Safetensors")
struct SafetensorsTests {
    static let architecture = try! PolicyArchitecture(inputs: 5, experts: 3, hidden: 7, topK: 2, actions: 4, activation: .gelu)

    /// A file image from a header (as JSON text) and raw data.
    static func file(header: String, data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + Array(header.utf8) + data
    }

    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    @Test func policyCheckpointRoundTripsBitForBit() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 3)
        try policy.prune(expert: 1, fraction: 0.25)
        let bytes = policy.checkpoint(extraMetadata: ["fleet.version": "7"])
        #expect(bytes.count % 4 == 0)
        let restored = try MoEPolicy(checkpoint: bytes)
        #expect(restored.architecture == policy.architecture)
        #expect(restored.parameterSet().isBitIdentical(to: policy.parameterSet()))
        let contents = try Safetensors.decode(bytes)
        #expect(contents.metadata["fleet.version"] == "7")
        #expect(contents.metadata["fleet.architecture_hash"] == policy.architecture.hash)
        #expect(contents.parameters.names == policy.parameterNames)
    }

    @Test func fileRoundTripIsAtomicAndExact() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.safetensors").path
        let policy = try MoEPolicy(architecture: Self.architecture, seed: 4)
        try policy.save(to: path)
        let loaded = try MoEPolicy(contentsOf: path)
        #expect(loaded.parameterSet().isBitIdentical(to: policy.parameterSet()))
        #expect(throws: SafetensorsError(.ioFailure, "")) { try MoEPolicy(contentsOf: path + ".missing") }
    }

    @Test func specialValuesAndEmptyTensorsSurvive() throws {
        let values: [Float] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let set = try ParameterSet([
            ("special", Tensor(shape: [2, 3], scalars: values)),
            ("empty", Tensor(shape: [0, 4])),
            ("scalar", Tensor(shape: [], scalars: [1.5])),
        ])
        let decoded = try Safetensors.decode(Safetensors.encode(set, metadata: ["k": "v \"quoted\"\n"]))
        #expect(decoded.parameters.count == 3)
        #expect(decoded.parameters["special"]!.isBitIdentical(to: set["special"]!))
        #expect(decoded.parameters["empty"]!.shape == [0, 4])
        #expect(decoded.parameters["scalar"]!.scalars == [1.5])
        #expect(decoded.metadata["k"] == "v \"quoted\"\n")
    }

    @Test func otherFloatTypesAreConvertedToFloat32() throws {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, smallest subnormal 0x0001 = 2^-24.
        let f16: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00]
        // BF16 is the top half of a Float32: 1.0 = 0x3F80, -3.0 = 0xC040.
        let bf16: [UInt8] = [0x80, 0x3F, 0x40, 0xC0]
        let f64: [UInt8] = withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian) { Array($0) }
        let header = #"{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"c":{"dtype":"F64","shape":[1],"data_offsets":[12,20]}}"#
        let contents = try Safetensors.decode(Self.file(header: header, data: f16 + bf16 + f64))
        #expect(contents.parameters["a"]!.scalars == [1, -2, 65504, 0x1p-24])
        #expect(contents.parameters["b"]!.scalars == [1, -3])
        #expect(contents.parameters["c"]!.scalars == [Float(0.1)])
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var expected: SafetensorsError.Code
        var testDescription: String { name }
    }

    static let valid = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
    static let eight = floats([1, 2])

    static let malformed: [Malformed] = [
        Malformed(name: "shorter than the length prefix", bytes: [1, 0, 0], expected: .truncated),
        Malformed(name: "header longer than the file", bytes: Array(file(header: valid, data: eight).prefix(20)), expected: .truncated),
        Malformed(name: "header length beyond the limit", bytes: [0, 0, 0, 0, 0, 0, 0, 1] + eight, expected: .headerTooLarge),
        Malformed(name: "header is not JSON", bytes: file(header: "{\"w\": [", data: eight), expected: .invalidHeaderJSON),
        Malformed(name: "header is a JSON array", bytes: file(header: "[1, 2]", data: []), expected: .invalidHeaderJSON),
        Malformed(name: "duplicate tensor name", bytes: file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), expected: .invalidHeaderJSON),
        Malformed(name: "entry without dtype", bytes: file(header: #"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, data: eight), expected: .invalidEntry),
        Malformed(name: "negative dimension", bytes: file(header: #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight), expected: .invalidEntry),
        Malformed(name: "metadata value not a string", bytes: file(header: #"{"__metadata__":{"a":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: eight), expected: .invalidEntry),
        Malformed(name: "unsupported dtype", bytes: file(header: #"{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: eight), expected: .unsupportedDType),
        Malformed(name: "shape does not match the byte range", bytes: file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), expected: .shapeSizeMismatch),
        Malformed(name: "shape product overflows", bytes: file(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: eight), expected: .shapeSizeMismatch),
        Malformed(name: "offsets beyond the data", bytes: file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: eight), expected: .offsetsOutOfBounds),
        Malformed(name: "offsets reversed", bytes: file(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: eight), expected: .offsetsOutOfBounds),
        Malformed(name: "overlapping tensors", bytes: file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), expected: .overlappingOffsets),
        Malformed(name: "gap in the data", bytes: file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), expected: .incompleteCoverage),
        Malformed(name: "trailing bytes", bytes: file(header: valid, data: eight + [0, 0, 0, 0]), expected: .incompleteCoverage),
        Malformed(name: "too many dimensions", bytes: file(header: #"{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}}"#, data: eight), expected: .limitExceeded),
    ]

    @Test(arguments: malformed)
    func malformedFilesAreRejectedWithTypedErrors(_ testCase: Malformed) {
        #expect(throws: SafetensorsError(testCase.expected, "")) { try Safetensors.decode(testCase.bytes) }
        // The same file, correctly formed, loads.
        #expect(throws: Never.self) { try Safetensors.decode(Self.file(header: Self.valid, data: Self.eight)) }
    }

    @Test func aFileWithTheWrongTensorsIsNotAPolicy() throws {
        var set = try MoEPolicy(architecture: Self.architecture, seed: 1).parameterSet()
        try set.remove("experts.2.fc2.bias")
        let bytes = Safetensors.encode(set, metadata: Self.architecture.metadata)
        #expect(throws: SafetensorsError(.invalidModel, "")) { try MoEPolicy(checkpoint: bytes) }
        let noMetadata = Safetensors.encode(try MoEPolicy(architecture: Self.architecture, seed: 1).parameterSet())
        #expect(throws: SafetensorsError(.invalidModel, "")) { try MoEPolicy(checkpoint: noMetadata) }
    }
}
