import Synchronization

/// Wakes every long-polling task request when a round opens.
///
/// Why not an actor method: a waiter that times out or whose connection
/// closes must leave at once, from a cancellation handler, which cannot wait
/// for an actor. A mutex-guarded table of continuations can be cleaned up
/// synchronously from there.
final class RoundSignal: Sendable {
    private struct State {
        var closed = false
        /// How many times ``signal()`` was called.
        var generation = 0
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// How many signals were sent so far: read it before checking the state a
    /// signal announces, and pass it to ``wait(after:)``, so a signal sent in
    /// between is not lost.
    var generation: Int { state.withLock { $0.generation } }

    /// Returns at the next ``signal()`` after `generation` (at once if one was
    /// already sent since), or as soon as the task is cancelled.
    func wait(after generation: Int) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || state.closed || state.generation != generation { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Wakes every waiter, and every later one at once: the service is shutting down.
    func close() {
        state.withLock { $0.closed = true }
        signal()
    }

    /// Whether ``close()`` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Wakes every waiter.
    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }
}
