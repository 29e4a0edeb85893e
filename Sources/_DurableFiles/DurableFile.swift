public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that are either whole or absent after a crash.
///
/// The one recipe every store of the fleet uses (the node's capture spool,
/// the coordinator's blobs): write to a temporary name in the same directory,
/// `fsync` the file, `rename` it into place, `fsync` the directory. A crash at
/// any moment leaves the old state or the new one, plus at most a `.tmp-`
/// file that ``removeDebris(in:)`` clears on the next open.
public enum DurableFile {
    /// The prefix of temporary files; nothing else may use it.
    public static let temporaryPrefix = ".tmp-"

    /// Atomically replaces (or creates) `url` with `bytes`, durably.
    public static func write(_ bytes: [UInt8], to url: URL) throws(DurableFileError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(temporaryPrefix + String(UInt64.random(in: 0...UInt64.max), radix: 36))
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw DurableFileError("cannot create \(temporary.path): \(lastError())")
        }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = posixWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = lastError()
                    return
                }
                offset += written
            }
        }
        if failure == nil && fsync(descriptor) != 0 { failure = lastError() }
        close(descriptor)
        if failure == nil && rename(temporary.path, url.path) != 0 { failure = lastError() }
        if let failure {
            unlink(temporary.path)
            throw DurableFileError("cannot write \(url.path) durably: \(failure)")
        }
        syncDirectory(directory)
    }

    /// Flushes a directory's entries (after a rename or an unlink).
    public static func syncDirectory(_ directory: URL) {
        let descriptor = open(directory.path, O_RDONLY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Creates `directory` if needed and removes what interrupted writes left in it.
    public static func prepareDirectory(_ directory: URL) throws(DurableFileError) {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in try fileManager.contentsOfDirectory(atPath: directory.path) where name.hasPrefix(temporaryPrefix) {
                try fileManager.removeItem(at: directory.appendingPathComponent(name))
            }
        } catch {
            throw DurableFileError("cannot prepare \(directory.path): \(error)")
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// `write(2)`, reachable inside ``DurableFile`` whose own `write` shadows it.
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

/// A durable write failed; the message names the file and the reason.
public struct DurableFileError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
