import Foundation
import Testing
import EdgeLearning

@Suite("capture spool")
struct CaptureSpoolTests {
    struct Capture: Codable, Sendable, Equatable {
        var family: String
        var seed: UInt64
    }

    func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
    }

    @Test("records survive reopening, oldest first")
    func persistence() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var spool = try CaptureSpool<Capture>(directory: directory)
        for seed in 0..<5 { try spool.append(Capture(family: "fog", seed: UInt64(seed))) }
        let reopened = try CaptureSpool<Capture>(directory: directory)
        let (records, skipped) = reopened.readAll()
        #expect(skipped.isEmpty)
        #expect(records.map(\.record.seed) == [0, 1, 2, 3, 4])
        var appended = reopened
        let next = try appended.append(Capture(family: "ice", seed: 9))
        #expect(next == records.last!.sequence + 1)
    }

    @Test("past its bound the spool drops the oldest and counts them")
    func bounded() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var spool = try CaptureSpool<Capture>(directory: directory, bounds: .init(maxRecords: 3))
        for seed in 0..<7 { try spool.append(Capture(family: "cut-in", seed: UInt64(seed))) }
        #expect(spool.count == 3)
        #expect(spool.droppedCount == 4)
        #expect(spool.readAll().records.map(\.record.seed) == [4, 5, 6])
    }

    @Test("a torn write leaves the spool readable")
    func tornWrite() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var spool = try CaptureSpool<Capture>(directory: directory)
        for seed in 0..<4 { try spool.append(Capture(family: "ice", seed: UInt64(seed))) }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()

        // A crash in the middle of a write leaves a temporary file...
        try Data("FLCAPT01\u{10}\0\0\0".utf8).write(to: directory.appendingPathComponent(".tmp-99-1"))
        // ...and a disk that lies leaves a record cut short, and one with a flipped byte.
        let cut = directory.appendingPathComponent(names[1])
        let whole = try Data(contentsOf: cut)
        try whole.prefix(whole.count - 3).write(to: cut)
        let flipped = directory.appendingPathComponent(names[2])
        var bytes = [UInt8](try Data(contentsOf: flipped))
        bytes[bytes.count - 2] ^= 0x20
        try Data(bytes).write(to: flipped)

        let reopened = try CaptureSpool<Capture>(directory: directory)
        let (records, skipped) = reopened.readAll()
        #expect(records.map(\.record.seed) == [0, 3])
        #expect(skipped.map(\.fileName) == [names[1], names[2]])
        #expect(skipped[0].reason.contains("truncated"))
        #expect(skipped[1].reason.contains("checksum"))
        // The debris is gone, the damaged files are set aside, the rest stays.
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(".tmp-99-1").path))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("quarantine/\(names[1])").path))
        #expect(reopened.count == 2)
    }
}
