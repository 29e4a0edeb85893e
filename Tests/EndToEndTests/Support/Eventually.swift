import Foundation

/// Asks `probe` every half second until it returns a value, throws, or `within` has passed.
///
/// Why polling: the processes report only through their logs, files and HTTP
/// API, none of which can be awaited; each probe is cheap and the bound keeps a
/// stuck fleet from hanging the suite.
func eventually<Value>(_ what: String, within limit: Duration, _ probe: () async throws -> Value?) async throws -> Value {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(500))
    }
    if let value = try await probe() { return value }
    throw EndToEndError("timed out after \(limit): \(what)")
}

struct EndToEndError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
