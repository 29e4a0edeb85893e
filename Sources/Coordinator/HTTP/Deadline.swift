import NIOCore
import Synchronization

/// Runs `body`, failing with 408 when it takes longer than `seconds`.
///
/// The timer is a task scheduled on `eventLoop` and cancelled — removed and
/// freed — the moment `body` finishes. A `Task.sleep` raced against the body
/// (as before) stays allocated until its full timeout even once cancelled:
/// one dead timer per request, thousands at a few hundred uploads a second,
/// which made the coordinator's memory grow with the size of the fleet.
func withDeadline<T: Sendable>(
    seconds: Double, on eventLoop: any EventLoop, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await body() }
    let expired = ExpiryFlag()
    let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
        expired.set()
        work.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        do {
            return try await work.value
        } catch where expired.isSet {
            throw CoordinatorError(.requestTimeout, "the request body did not arrive within \(Int(seconds)) seconds")
        }
    } onCancel: {
        work.cancel()
    }
}

/// Set once when the deadline passes.
private final class ExpiryFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
