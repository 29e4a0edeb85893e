import NIOCore

/// Runs `body`, failing with 408 when it takes longer than `seconds`.
///
/// The race's timer is ``sleep(seconds:on:)`` on `eventLoop`, which frees its
/// scheduled task the moment the body wins. A `Task.sleep` raced against the
/// body (as before) stays allocated until its full timeout even once
/// cancelled: one dead timer per request, thousands at a few hundred uploads
/// a second, which made the coordinator's memory grow with the size of the fleet.
func withDeadline<T: Sendable>(
    seconds: Double, on eventLoop: any EventLoop, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await sleep(seconds: seconds, on: eventLoop)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw CoordinatorError(.requestTimeout, "the request body did not arrive within \(Int(seconds)) seconds")
        }
        return value
    }
}
