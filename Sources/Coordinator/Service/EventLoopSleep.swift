import NIOCore
import Synchronization

/// Waits `seconds` on `eventLoop`'s timer, or until the task is cancelled.
///
/// Why not `Task.sleep`: a cancelled `Task.sleep` keeps its timer allocated
/// until the full duration has passed. A long poll waits up to a minute and
/// is usually woken early by a round opening, so every node's poll left a
/// dead timer behind for up to a minute. Cancelling this sleep cancels — and
/// frees — its scheduled task at once.
func sleep(seconds: Double, on eventLoop: any EventLoop) async throws {
    let state = Mutex(SleepState.starting)
    try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9))) {
                if let sleeper = state.withLock({ $0.fire() }) { sleeper.resume() }
            }
            switch state.withLock({ $0.arm(continuation, timer) }) {
            case .armed: break
            case .fired: continuation.resume()
            case .cancelled:
                timer.cancel()
                continuation.resume(throwing: CancellationError())
            }
        }
    } onCancel: {
        if let (continuation, timer) = state.withLock({ $0.cancel() }) {
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }
}

/// Who resumes the sleeper: the timer, the cancellation, or the caller
/// itself when one of them came before the timer was armed.
private enum SleepState {
    case starting
    case armed(CheckedContinuation<Void, any Error>, Scheduled<Void>)
    case fired
    case cancelled
    case done

    enum Arming { case armed, fired, cancelled }

    mutating func arm(_ continuation: CheckedContinuation<Void, any Error>, _ timer: Scheduled<Void>) -> Arming {
        switch self {
        case .starting:
            self = .armed(continuation, timer)
            return .armed
        case .fired:
            self = .done
            return .fired
        case .cancelled:
            self = .done
            return .cancelled
        case .armed, .done:
            return .armed  // not reached: armed once
        }
    }

    /// The timer fired: the continuation to resume, if armed.
    mutating func fire() -> CheckedContinuation<Void, any Error>? {
        switch self {
        case .starting:
            self = .fired
            return nil
        case .armed(let continuation, _):
            self = .done
            return continuation
        case .fired, .cancelled, .done:
            return nil
        }
    }

    /// The task was cancelled: the continuation and timer to cancel, if armed.
    mutating func cancel() -> (CheckedContinuation<Void, any Error>, Scheduled<Void>)? {
        switch self {
        case .starting:
            self = .cancelled
            return nil
        case .armed(let continuation, let timer):
            self = .done
            return (continuation, timer)
        case .fired, .cancelled, .done:
            return nil
        }
    }
}
