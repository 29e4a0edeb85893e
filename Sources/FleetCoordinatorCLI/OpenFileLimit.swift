#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import SecureTransport

/// Lets the process open as many sockets as its connection caps allow.
///
/// Why: every connection is a file descriptor. With the usual soft limit of
/// 1,024, accept(2) fails with EMFILE long before ``ConnectionLimits`` is
/// reached, and SwiftNIO then stops accepting for a while — nobody, not even
/// an authenticated node, gets in. The soft limit is raised to the hard limit
/// (as Go's runtime does); when even the hard limit leaves too little room
/// above `maximumConnections` for the database, blobs and logs, a warning says so.
enum OpenFileLimit {
    /// Descriptors kept for everything that is not a connection.
    static let reserve = 256

    #if os(Linux)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif

    static func raise(for limits: ConnectionLimits, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        let needed = rlim_t(limits.maximumConnections + reserve)
        if limit.rlim_cur != rlim_t.max && limit.rlim_cur < needed {
            logger.warning(
                "the open-file limit is below the connection cap plus a reserve; accept(2) will fail before the cap is reached",
                metadata: [
                    "open-file limit": "\(limit.rlim_cur)", "max-connections": "\(limits.maximumConnections)",
                    "fix": "raise the limit (ulimit -n \(needed) or LimitNOFILE=) or lower --max-connections",
                ]
            )
        }
    }
}
