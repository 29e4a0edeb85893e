import Foundation

/// Asks `probe` every half second until it returns a value, throws, or `within` has passed.
///
/// Why polling: the processes report only through their logs, files and HTTP
/// API, none of which can be awaited; each probe is cheap and the bound keeps a
/// stuck fleet from hanging the suite. For steps that take as long as the
/// machine is slow (lessons, the gate), see
/// ``eventually(_:stalledFor:progress:_:)``.
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

/// Asks `probe` every half second until it returns a value or throws; gives up only when
/// `progress` has shown no change for `stall`.
///
/// Why a bound on a stall and not on the whole wait: how long rounds of
/// learning and gating take depends on the machine (a DEBUG build on two busy
/// cores is many times slower than one on an idle laptop), so any total bound
/// is either too short there or useless elsewhere. A fleet that still makes
/// progress — a round opens, an update is accepted, a version is published, a
/// process logs a step — is given more time; one that stopped is given up
/// after `stall`, however fast or slow the machine.
func eventually<Value, Mark: Equatable>(
    _ what: String, stalledFor stall: Duration, progress: () async throws -> Mark, _ probe: () async throws -> Value?
) async throws -> Value {
    let clock = ContinuousClock()
    var mark = try await progress()
    var lastChange = clock.now
    while true {
        if let value = try await probe() { return value }
        let current = try await progress()
        if current != mark {
            mark = current
            lastChange = clock.now
        } else if clock.now - lastChange > stall {
            if let value = try await probe() { return value }
            throw EndToEndError("no progress for \(stall): \(what) (last seen: \(mark))")
        }
        try await Task.sleep(for: .milliseconds(500))
    }
}

struct EndToEndError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
