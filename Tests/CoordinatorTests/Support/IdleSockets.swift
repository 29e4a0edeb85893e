import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain TCP connections to 127.0.0.1 that never send a byte — the shape of
/// an idle-connection flood — and which of them the server has closed.
///
/// Why raw sockets: the point is connections that never start a TLS
/// handshake; no client library makes those. Each is a blocking `connect`
/// (loopback completes it at once), then non-blocking, so that a closed one
/// is seen by `poll` and a zero-byte `recv` (or a reset).
final class IdleSockets {
    private(set) var descriptors: [Int32] = []
    /// Whether the server closed descriptor `i` (we saw EOF or a reset).
    private(set) var closedByServer: [Bool] = []

    /// Opens `count` connections to 127.0.0.1:`port`.
    init(port: Int, count: Int) throws {
        descriptors.reserveCapacity(count)
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SocketError("socket() failed: \(String(cString: strerror(errno)))") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw SocketError("connect() to 127.0.0.1:\(port) failed after \(descriptors.count) connections: \(reason)")
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            descriptors.append(fd)
            closedByServer.append(false)
        }
    }

    deinit { closeAll() }

    /// How many the server has closed so far.
    var closedCount: Int { closedByServer.count { $0 } }
    /// How many are still open from the server's side, as far as we have seen.
    var openCount: Int { descriptors.count - closedCount }

    /// Waits up to `milliseconds` for news, then records every connection the server has closed.
    func update(waitingUpTo milliseconds: Int32 = 100) {
        var polls = descriptors.indices.filter { !closedByServer[$0] }.map {
            pollfd(fd: descriptors[$0], events: Int16(POLLIN), revents: 0)
        }
        guard !polls.isEmpty else { return }
        _ = poll(&polls, nfds_t(polls.count), milliseconds)
        var byte: UInt8 = 0
        for entry in polls where entry.revents != 0 {
            let received = recv(entry.fd, &byte, 1, Int32(MSG_DONTWAIT))
            if received == 0 || (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK),
               let index = descriptors.firstIndex(of: entry.fd) {
                closedByServer[index] = true
            }
        }
    }

    /// Updates until `condition` holds or `limit` passes; returns whether it held.
    func wait(upTo limit: Duration, until condition: (IdleSockets) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition(self) {
            if ContinuousClock.now >= deadline { return false }
            update()
        }
        return true
    }

    func closeAll() {
        for fd in descriptors { close(fd) }
        descriptors = []
        closedByServer = []
    }

    struct SocketError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// File descriptors of this process and of others.
enum Descriptors {
    #if os(Linux)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif

    /// Raises this process's soft open-file limit to at least `needed` (children inherit it).
    /// - Returns: nil when done, else why it cannot be (the hard limit is too low).
    static func ensureLimit(_ needed: Int) -> String? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return "getrlimit failed" }
        if limit.rlim_cur >= rlim_t(needed) { return nil }
        guard limit.rlim_max >= rlim_t(needed) else {
            return "the hard open-file limit \(limit.rlim_max) is below the \(needed) descriptors the test needs"
        }
        limit.rlim_cur = rlim_t(needed)
        return setrlimit(resource, &limit) == 0 ? nil : "setrlimit failed: \(String(cString: strerror(errno)))"
    }

    /// The number of open descriptors of process `pid` (nil when /proc cannot tell).
    static func count(of pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}
