import Foundation
import Testing
import FleetWire

/// The golden containers in `Protocols/test-vectors/`, written from the spec by
/// an independent implementation, each with a JSON file stating its content.
@Suite("golden delta vectors")
struct GoldenVectorTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols/test-vectors")

    static let names = ["empty", "dense-f32", "sparse-f32", "int8", "added-expert"]

    struct Expected: Decodable {
        struct Tensor: Decodable {
            let name: String
            let role: String
            let shape: [Int]
            let encoding: String
            let dense: [Float]
        }
        let architecture: String
        let base_version: UInt64
        let round: UInt64
        let node_id: String
        let tensors: [Tensor]
        let routing_counts: [UInt64]
        let metadata: DeltaMetadata
        let crc32c: UInt32
    }

    @Test("each golden file decodes to its stated content", arguments: names)
    func decodesToStatedContent(name: String) throws {
        let raw = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("\(name).fldelta")))
        let compressed = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("\(name).fldelta.zst")))
        let expected = try JSONDecoder().decode(
            Expected.self,
            from: Data(contentsOf: Self.directory.appendingPathComponent("\(name).json"))
        )
        let delta = try DeltaCodec.decode(raw)
        #expect(try DeltaCodec.decodeCompressed(compressed) == delta)
        #expect(delta.architecture == expected.architecture)
        #expect(delta.baseVersion == expected.base_version)
        #expect(delta.round == expected.round)
        #expect(delta.nodeID == expected.node_id)
        #expect(delta.routingCounts == expected.routing_counts)
        #expect(delta.metadata == expected.metadata)
        #expect(CRC32C.checksum(raw.dropLast(4)) == expected.crc32c)
        #expect(delta.tensors.count == expected.tensors.count)
        for (tensor, stated) in zip(delta.tensors, expected.tensors) {
            #expect(tensor.name == stated.name)
            #expect(tensor.shape == stated.shape)
            #expect((tensor.role == .addition ? "addition" : "difference") == stated.role)
            #expect(encodingName(tensor.payload) == stated.encoding)
            #expect(tensor.denseValues() == stated.dense)
        }
        // And our encoder writes the same bytes the independent writer did.
        #expect(try DeltaCodec.encode(delta) == raw)
    }

    private func encodingName(_ payload: TensorPayload) -> String {
        switch payload {
        case .dense: "dense_f32"
        case .sparse: "sparse_f32"
        case .denseInt8: "dense_int8"
        case .sparseInt8: "sparse_int8"
        }
    }
}
