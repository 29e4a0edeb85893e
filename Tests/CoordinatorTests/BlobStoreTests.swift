import Foundation
import Testing
import Coordinator

@Suite("blob store")
struct BlobStoreTests {
    func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("blobs-\(UUID().uuidString)")
    }

    @Test("blobs are named by their SHA-256 and read back checked")
    func roundTrip() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try BlobStore(directory: directory)
        let hash = try store.put(Array("abc".utf8))
        #expect(hash == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try store.get(hash) == Array("abc".utf8))
        #expect(try store.put(Array("abc".utf8)) == hash)
        #expect(store.contains(hash))
    }

    @Test("a damaged blob is reported, never served; debris of a torn write is removed")
    func damage() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try BlobStore(directory: directory)
        let hash = try store.put([UInt8](repeating: 7, count: 1_000))
        let file = directory.appendingPathComponent(String(hash.dropFirst(7)))
        try Data([UInt8](repeating: 8, count: 1_000)).write(to: file)
        #expect(throws: CoordinatorError(.storage, "")) { try store.get(hash) }
        #expect(throws: CoordinatorError(.notFound, "")) { try store.get("sha256:" + String(repeating: "0", count: 64)) }
        #expect(throws: CoordinatorError(.notFound, "")) { try store.get("../../etc/passwd") }

        try Data("half".utf8).write(to: directory.appendingPathComponent(".tmp-1"))
        _ = try BlobStore(directory: directory)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(".tmp-1").path))
    }
}
