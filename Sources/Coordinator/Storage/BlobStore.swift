public import Foundation
import SecureTransport
import _DurableFiles

/// Content-addressed, crash-safe storage for checkpoints and accepted updates.
///
/// A blob's name is the SHA-256 of its bytes (`sha256:<hex>`), so a name can
/// never point at the wrong content and storing the same bytes twice is free.
/// Writes go to a temporary file, are flushed with `fsync`, renamed into
/// place and the directory is flushed: after `kill -9` a blob is either whole
/// or absent, and leftovers of an interrupted write are removed on open.
/// Reads check the hash, so a damaged file is reported, never served.
public struct BlobStore: Sendable {
    public let directory: URL

    public init(directory: URL) throws(CoordinatorError) {
        self.directory = directory
        do {
            try DurableFile.prepareDirectory(directory)
        } catch {
            throw CoordinatorError(.storage, "cannot open the blob store at \(directory.path): \(error.message)")
        }
    }

    /// `sha256:<hex>` of `bytes`.
    public static func hash(of bytes: [UInt8]) -> String {
        SHA256Digest.contentHash(of: bytes)
    }

    /// Stores `bytes` durably and returns their hash (a no-op if already stored intact).
    @discardableResult
    public func put(_ bytes: [UInt8]) throws(CoordinatorError) -> String {
        let hash = Self.hash(of: bytes)
        let target = url(for: hash)
        // Already stored and intact: nothing to write. A damaged copy (a
        // flipped bit) is replaced by these bytes, which are the right ones.
        if let existing = FileManager.default.contents(atPath: target.path), Self.hash(of: [UInt8](existing)) == hash {
            return hash
        }
        do {
            try DurableFile.write(bytes, to: target)
        } catch {
            throw CoordinatorError(.storage, "cannot store blob \(hash): \(error.message)")
        }
        return hash
    }

    /// The bytes stored under `hash`, checked against it.
    public func get(_ hash: String) throws(CoordinatorError) -> [UInt8] {
        guard Self.isValidName(hash) else {
            throw CoordinatorError(.notFound, "'\(hash)' is not a blob name (sha256:<64 hex digits>)")
        }
        guard let data = FileManager.default.contents(atPath: url(for: hash).path) else {
            throw CoordinatorError(.notFound, "no blob \(hash)")
        }
        let bytes = [UInt8](data)
        guard Self.hash(of: bytes) == hash else {
            throw CoordinatorError(.storage, "blob \(hash) is damaged: its content no longer matches its hash")
        }
        return bytes
    }

    /// Whether a blob is stored.
    public func contains(_ hash: String) -> Bool {
        Self.isValidName(hash) && FileManager.default.fileExists(atPath: url(for: hash).path)
    }

    /// Removes a blob (e.g. the accepted updates of a finished round).
    public func remove(_ hash: String) {
        guard Self.isValidName(hash) else { return }
        try? FileManager.default.removeItem(at: url(for: hash))
    }

    /// Moves a blob aside into `quarantine/` (an update that can no longer be
    /// folded), so an operator can inspect it and it is never read again as
    /// an update. Returns where it went, or nil if there was nothing to move.
    @discardableResult
    public func quarantine(_ hash: String) -> URL? {
        guard Self.isValidName(hash) else { return nil }
        let folder = directory.appendingPathComponent("quarantine", isDirectory: true)
        let target = folder.appendingPathComponent(String(hash.dropFirst("sha256:".count)))
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.moveItem(at: url(for: hash), to: target)
            return target
        } catch {
            return nil
        }
    }

    private func url(for hash: String) -> URL {
        directory.appendingPathComponent(String(hash.dropFirst("sha256:".count)))
    }

    private static func isValidName(_ hash: String) -> Bool {
        hash.hasPrefix("sha256:") && hash.utf8.count == 71
            && hash.utf8.dropFirst(7).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
