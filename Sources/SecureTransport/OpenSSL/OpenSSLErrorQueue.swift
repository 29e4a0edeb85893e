import COpenSSL

/// Reads and empties OpenSSL's thread-local error queue.
///
/// Why: OpenSSL reports the reason for a failure on a per-thread queue, not in
/// the return value. Every failing call must drain it into the error it raises
/// (so the reason reaches the person reading the log) and so that a stale entry
/// is never blamed on the next, unrelated call on the same event-loop thread.
enum OpenSSLErrorQueue {
    /// Returns the queued errors as readable strings, oldest first, and clears the queue.
    static func drain() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages
    }

    /// Empties the queue without reading it (before a call whose result we inspect).
    static func clear() {
        ERR_clear_error()
    }
}
