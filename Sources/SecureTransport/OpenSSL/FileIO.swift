#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small file helpers with POSIX calls, so that key files are created with the
/// right mode from the first byte (never world-readable, not even briefly).
enum FileIO {
    /// Reads a whole text file.
    static func readText(_ path: String) throws(TLSError) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Reads a whole file.
    static func readBytes(_ path: String) throws(TLSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error("could not open \(path) for reading") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw error("could not read \(path)")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// Writes `text` to `path` through a temporary file that is renamed into place,
    /// so that a crash leaves either the old or the new content, never a mix.
    static func write(_ text: String, to path: String, mode: mode_t) throws(TLSError) {
        try write(Array(text.utf8), to: path, mode: mode)
    }

    /// Writes `bytes` atomically with the given permission bits.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(TLSError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw error("could not create \(temporary)") }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                let failure = error("could not write \(temporary)")
                close(fd)
                unlink(temporary)
                throw failure
            }
            offset += count
        }
        // The umask may have cleared bits; set exactly the requested mode.
        fchmod(fd, mode)
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let failure = error("could not move \(temporary) to \(path)")
            unlink(temporary)
            throw failure
        }
    }

    /// The modification time and size of a file, or nil when it does not exist.
    static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(
            seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec),
            size: Int64(info.st_size), inode: UInt64(info.st_ino)
        )
    }

    private static func error(_ message: String) -> TLSError {
        TLSError(.fileSystem, message + ": " + String(cString: strerror(errno)))
    }
}

/// What identifies one version of a file: if any field changes, the file changed.
struct FileStamp: Equatable, Sendable {
    var seconds: Int64
    var nanoseconds: Int64
    var size: Int64
    var inode: UInt64
}
