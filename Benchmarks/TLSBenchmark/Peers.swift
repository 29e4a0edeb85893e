import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting and timing the OpenSSL command-line peers.
enum Peers {
    /// The `openssl` binary, or nil.
    static let openssl: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A free loopback port (bound and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts TCP connections on `port` (at most 10 s).
    static func waitUntilListening(_ port: Int) -> Bool {
        for _ in 0..<1000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let result = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if result == 0 { return true }
            usleep(10_000)
        }
        return false
    }

    /// Starts `openssl s_server` with mutual TLS, serving files from `directory` (-WWW).
    static func startSServer(port: Int, directory: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl!)
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", "server.pem", "-key", "server.key",
            "-CAfile", "ca.pem", "-Verify", "1", "-verify_return_error", "-tls1_3", "-WWW", "-quiet",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = Pipe()
        try process.run()
        return process
    }

    /// What one `s_time` run measured.
    struct STimeResult {
        var connections: Int
        var bytesPerConnection: Int
        var wallSeconds: Double
        var connectionsPerSecond: Double { Double(connections) / wallSeconds }
        var megabytesPerSecond: Double { Double(connections * bytesPerConnection) / wallSeconds / 1_000_000 }
    }

    /// Runs `openssl s_time -new` (full handshakes, client certificate) for `seconds`,
    /// optionally fetching `page` on every connection, and times it by the wall clock.
    static func sTime(port: Int, directory: String, seconds: Int, page: String?) throws -> STimeResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl!)
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var arguments = [
            "s_time", "-connect", "127.0.0.1:\(port)", "-new", "-time", "\(seconds)",
            "-cert", "node.pem", "-key", "node.key", "-CAfile", "ca.pem",
        ]
        if let page { arguments += ["-www", page] }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let start = DispatchTime.now()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let text = String(decoding: data, as: UTF8.self)
        // "<n> connections in <t> real seconds, <b> bytes read per connection"
        guard let line = text.split(separator: "\n").first(where: { $0.contains("real seconds") }) else {
            throw BenchmarkError("s_time printed no result: \(text.suffix(300))")
        }
        let words = line.split(separator: " ")
        let connections = Int(words[0]) ?? 0
        let bytes = words.firstIndex(of: "bytes").flatMap { Int(words[$0 - 1]) } ?? 0
        return STimeResult(connections: connections, bytesPerConnection: bytes, wallSeconds: wall)
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
