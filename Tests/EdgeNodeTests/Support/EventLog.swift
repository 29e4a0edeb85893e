@testable import EdgeNode

/// Every event an agent emitted, with a way to wait until the log shows something.
///
/// Why: tests wait for what the agent does ("three captures stored", "the
/// upload was accepted") instead of sleeping; one task drains the agent's
/// stream into this actor and any task can wait on it.
actor EventLog {
    private(set) var events: [AgentEvent] = []
    private var waiters: [(condition: @Sendable ([AgentEvent]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func record(_ event: AgentEvent) {
        events.append(event)
        var waiting: [(condition: @Sendable ([AgentEvent]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
        for waiter in waiters {
            if waiter.condition(events) { waiter.continuation.resume() } else { waiting.append(waiter) }
        }
        waiters = waiting
    }

    /// Returns once `condition` holds for the log.
    func wait(until condition: @escaping @Sendable ([AgentEvent]) -> Bool) async {
        if condition(events) { return }
        await withCheckedContinuation { waiters.append((condition, $0)) }
    }

    /// Drains `stream` into the log until it finishes.
    func drain(_ stream: AsyncStream<AgentEvent>) async {
        for await event in stream { record(event) }
    }
}

extension Array where Element == AgentEvent {
    /// Captures stored so far.
    var captured: Int {
        reduce(0) { total, event in
            switch event {
            case .episodeFinished(let count), .frameProcessed(let count): total + count
            default: total
            }
        }
    }

    func count(where predicate: (AgentEvent) -> Bool) -> Int { filter(predicate).count }

    var transportFailures: Int { count { if case .transportFailed = $0 { true } else { false } } }
    var episodes: Int { count { if case .episodeFinished = $0 { true } else { false } } }
    var uploadsAccepted: [AgentEvent] { filter { if case .uploadAccepted = $0 { true } else { false } } }
    var installed: [UInt64] { compactMap { if case .modelInstalled(let version) = $0 { version } else { nil } } }
    var rejectedModels: Int { count { if case .modelRejected = $0 { true } else { false } } }
}
