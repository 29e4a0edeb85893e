public import Foundation
import FleetWire
import _DurableFiles

/// A bounded, crash-safe on-disk queue of edge-case captures.
///
/// A node keeps capturing while the coordinator is out of reach, so captures
/// wait here across restarts and power loss. Each record is one file, written
/// to a temporary name, flushed with `fsync` and renamed into place (then the
/// directory is flushed), so a crash leaves either the whole record or none of
/// it. Each file carries a magic, a length and a CRC-32C of its payload: a file
/// that is damaged anyway is moved to `quarantine/` with the reason, and every
/// other record stays readable. Past the bound the oldest records are dropped,
/// and counted.
public struct CaptureSpool<Record: Codable & Sendable>: Sendable {
    /// How much the spool keeps.
    public struct Bounds: Sendable, Equatable {
        public var maxRecords: Int
        public var maxBytes: Int

        public init(maxRecords: Int = 10_000, maxBytes: Int = 512 << 20) {
            self.maxRecords = maxRecords
            self.maxBytes = maxBytes
        }
    }

    /// A record file that could not be read, and why; it was moved to `quarantine/`.
    public struct SkippedFile: Sendable, Equatable {
        public let fileName: String
        public let reason: String
    }

    public let directory: URL
    public let bounds: Bounds
    /// Records dropped because the spool was full, since it was opened.
    public private(set) var droppedCount = 0
    private var nextSequence: UInt64

    static var magic: [UInt8] { Array("FLCAPT01".utf8) }
    static var fileExtension: String { "capture" }
    static var headerSize: Int { 16 }

    /// Opens (or creates) the spool in `directory`, removing the debris of
    /// writes a crash interrupted.
    public init(directory: URL, bounds: Bounds = Bounds()) throws(SpoolError) {
        self.directory = directory
        self.bounds = bounds
        do {
            try DurableFile.prepareDirectory(directory)
        } catch {
            throw SpoolError("cannot open the capture spool at \(directory.path): \(error.message)")
        }
        nextSequence = (Self.sequences(in: directory).last ?? 0) + 1
    }

    /// Writes `record` durably and drops the oldest records past the bounds.
    ///
    /// - Returns: The record's sequence number.
    @discardableResult
    public mutating func append(_ record: Record) throws(SpoolError) -> UInt64 {
        let payload: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            payload = try encoder.encode(record)
        } catch {
            throw SpoolError("cannot encode a capture: \(error)")
        }
        var header = Self.magic
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { header.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32C.checksum(payload).littleEndian) { header.append(contentsOf: $0) }

        let sequence = nextSequence
        do {
            try DurableFile.write(header + [UInt8](payload), to: directory.appendingPathComponent(Self.fileName(for: sequence)))
        } catch {
            throw SpoolError("cannot store a capture: \(error.message)")
        }
        nextSequence += 1
        enforceBounds()
        return sequence
    }

    /// Every readable record, oldest first; damaged files are quarantined and reported.
    public func readAll() -> (records: [(sequence: UInt64, record: Record)], skipped: [SkippedFile]) {
        var records: [(UInt64, Record)] = []
        var skipped: [SkippedFile] = []
        for sequence in Self.sequences(in: directory) {
            let name = Self.fileName(for: sequence)
            switch read(name) {
            case .success(let record): records.append((sequence, record))
            case .failure(let error):
                skipped.append(SkippedFile(fileName: name, reason: error.message))
                quarantine(name)
            }
        }
        return (records, skipped)
    }

    /// Removes records once they have been used (e.g. after an adaptation).
    public func remove(_ sequences: some Sequence<UInt64>) {
        for sequence in sequences {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(Self.fileName(for: sequence)))
        }
        DurableFile.syncDirectory(directory)
    }

    /// The number of record files in the spool.
    public var count: Int { Self.sequences(in: directory).count }

    // MARK: Internals

    private func read(_ name: String) -> Result<Record, SpoolError> {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
            return .failure(SpoolError("\(name) cannot be read"))
        }
        let bytes = [UInt8](data)
        guard bytes.count >= Self.headerSize, Array(bytes[0..<8]) == Self.magic else {
            return .failure(SpoolError("\(name) does not start with a capture header (torn or foreign file)"))
        }
        let length = Int(UInt32(bytes[8]) | UInt32(bytes[9]) << 8 | UInt32(bytes[10]) << 16 | UInt32(bytes[11]) << 24)
        let stored = UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24
        let payload = bytes[Self.headerSize...]
        guard payload.count == length else {
            return .failure(SpoolError("\(name) holds \(payload.count) payload bytes but declares \(length) (truncated)"))
        }
        guard CRC32C.checksum(payload) == stored else {
            return .failure(SpoolError("\(name) fails its checksum (corrupted)"))
        }
        do {
            return .success(try JSONDecoder().decode(Record.self, from: Data(payload)))
        } catch {
            return .failure(SpoolError("\(name) is not a valid capture: \(error)"))
        }
    }

    private func quarantine(_ name: String) {
        let quarantine = directory.appendingPathComponent("quarantine")
        try? FileManager.default.createDirectory(at: quarantine, withIntermediateDirectories: true)
        let target = quarantine.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: target)
        try? FileManager.default.moveItem(at: directory.appendingPathComponent(name), to: target)
    }

    private mutating func enforceBounds() {
        var files = Self.sequences(in: directory).map { sequence -> (UInt64, Int) in
            let path = directory.appendingPathComponent(Self.fileName(for: sequence)).path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            return (sequence, size)
        }
        var totalBytes = files.reduce(0) { $0 + $1.1 }
        var dropped: [UInt64] = []
        while files.count > 1 && (files.count > bounds.maxRecords || totalBytes > bounds.maxBytes) {
            let oldest = files.removeFirst()
            totalBytes -= oldest.1
            dropped.append(oldest.0)
        }
        if !dropped.isEmpty {
            remove(dropped)
            droppedCount += dropped.count
        }
    }

    static func fileName(for sequence: UInt64) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + fileExtension
    }

    static func sequences(in directory: URL) -> [UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> UInt64? in
            guard name.hasSuffix("." + fileExtension) else { return nil }
            return UInt64(name.dropLast(fileExtension.count + 1))
        }.sorted()
    }
}

/// The capture spool could not do what was asked; `message` says what and where.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "SpoolError: \(message)" }
}
