import Synchronization

/// The set of revoked certificate serial numbers, read from a text file and
/// re-read whenever that file changes.
///
/// Why a file of serials: revoking a node must take effect on the very next
/// connection without restarting the coordinator, and the operator's tool
/// (`fleet-coordinator certs revoke`) only appends a line. The file's modification time,
/// size and inode are checked each time a new connection is verified; that is
/// one `stat` per handshake, far cheaper than the handshake itself.
///
/// Format: one serial per line in hexadecimal (as `openssl x509 -serial`
/// prints it, with or without `serial=`), `#` starts a comment. A missing file
/// means nothing is revoked; a file that cannot be read keeps the last list
/// (never silently forgets revocations).
public final class RevocationList: Sendable {
    /// The file watched.
    public let path: String

    private struct Snapshot {
        var stamp: FileStamp?
        var serials: Set<String>
    }

    private let state: Mutex<Snapshot>

    /// Watches `path`. The file need not exist yet.
    public init(path: String) {
        self.path = path
        state = Mutex(Snapshot(stamp: nil, serials: []))
        _ = reloadIfChanged()
    }

    /// Whether `serial` (hexadecimal, any case, leading zeros ignored) is revoked,
    /// after re-reading the file if it changed.
    public func isRevoked(serialHex serial: String) -> Bool {
        let serials = reloadIfChanged()
        return serials.contains(Self.normalize(serial))
    }

    /// The current revoked serials, re-reading the file if it changed.
    public var serials: Set<String> { reloadIfChanged() }

    private func reloadIfChanged() -> Set<String> {
        let stamp = FileIO.stamp(path)
        return state.withLock { snapshot in
            guard stamp != snapshot.stamp else { return snapshot.serials }
            if stamp == nil {
                snapshot = Snapshot(stamp: nil, serials: [])
            } else if let text = try? FileIO.readText(path) {
                snapshot = Snapshot(stamp: stamp, serials: Self.parse(text))
            }
            return snapshot.serials
        }
    }

    /// Parses the file's text into normalized serials.
    static func parse(_ text: String) -> Set<String> {
        var serials: Set<String> = []
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            line = line.drop(while: \.isWhitespace)
            if line.hasPrefix("serial=") { line = line.dropFirst("serial=".count) }
            let token = String(line.prefix { !$0.isWhitespace })
            if !token.isEmpty, token.allSatisfy(\.isHexDigit) { serials.insert(normalize(token)) }
        }
        return serials
    }

    /// Upper case without leading zeros, so `0a1b` and `A1B` compare equal.
    static func normalize(_ serial: String) -> String {
        let trimmed = serial.uppercased().drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }
}
