public import NIOCore

/// Where the coordinator is and how long and how much the node waits for it.
///
/// Why bounds on everything: a node runs unattended on a bad network; a
/// coordinator that stalls or answers with too much must cost a bounded
/// wait and bounded memory, after which the sync loop backs off and tries
/// again. The long poll gets its own allowance on top of the request bound.
public struct ConnectionConfiguration: Sendable, Equatable {
    /// The coordinator's host name or IP address (also the name its certificate must carry).
    public var host: String
    public var port: Int
    /// How long opening the TCP connection and the TLS handshake may take.
    public var connectTimeout: TimeAmount
    /// How long one request may take beyond any long-poll wait it asks for.
    public var requestTimeout: TimeAmount
    /// The largest JSON answer accepted.
    public var maxControlResponseBytes: Int
    /// The largest checkpoint body accepted (compressed, as sent).
    public var maxModelResponseBytes: Int

    public init(
        host: String,
        port: Int = 8443,
        connectTimeout: TimeAmount = .seconds(10),
        requestTimeout: TimeAmount = .seconds(60),
        maxControlResponseBytes: Int = 1 << 20,
        maxModelResponseBytes: Int = 256 << 20
    ) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxControlResponseBytes = maxControlResponseBytes
        self.maxModelResponseBytes = maxModelResponseBytes
    }

    /// Reads `https://host[:port]` (a trailing `/` allowed; nothing else after the authority).
    ///
    /// - Throws: ``ConnectionError/Code/invalidConfiguration`` naming what is wrong with the URL.
    public init(url: String) throws(ConnectionError) {
        let prefix = "https://"
        guard url.lowercased().hasPrefix(prefix) else {
            throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)' must start with https:// (the API is served over TLS only)")
        }
        var authority = Substring(url.dropFirst(prefix.count))
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@"), !authority.contains("?") else {
            throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)' must be https://host or https://host:port with no path")
        }
        var host = authority
        var port = 8443
        if authority.hasPrefix("[") {
            // [IPv6]:port
            guard let close = authority.firstIndex(of: "]") else {
                throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)' has an unclosed [IPv6 address]")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else {
                    throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)' has a bad port")
                }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else {
                throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)' has a bad port")
            }
            port = value
        }
        guard (1...65_535).contains(port) else {
            throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)': port \(port) is outside 1…65535")
        }
        guard !host.isEmpty else {
            throw ConnectionError(.invalidConfiguration, "coordinator URL '\(url)' names no host")
        }
        self.init(host: String(host), port: port)
    }

    /// The `Host` header value.
    var hostHeader: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
