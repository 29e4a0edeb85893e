/// The edge node's conversation with the coordinator, as a pure state machine.
///
/// The node always dials out and the network is unreliable, so every step can
/// fail. This struct decides what to do next; the agent service performs the
/// action (an HTTPS request, an adaptation, a timer) and reports the outcome
/// as the next event. Tests drive it without sockets.
///
///     polling ──task──▶ (fetching the base) ──▶ adapting ──▶ uploading ──▶ polling
///        ▲                                                      │
///        └──────── accepted, or refused for good (409/4xx) ─────┘
///
/// A transport failure (connection refused, timeout, 5xx) waits with
/// ``Backoff`` and retries the same step; a refusal that a retry cannot fix
/// (round closed, duplicate, invalid) drops the delta and goes back to polling.
public struct SyncStateMachine: Sendable {
    /// What the node is doing.
    public indirect enum State: Sendable, Equatable {
        case polling
        case fetchingModel(version: UInt64, then: Task?)
        case adapting(Task)
        case uploading(Task)
        /// Waiting out a backoff before going back to `resume` and repeating its request.
        case backingOff(resume: State, until: Double)
    }

    /// Work the coordinator handed out.
    public struct Task: Sendable, Equatable {
        public let round: UInt64
        public let baseVersion: UInt64

        public init(round: UInt64, baseVersion: UInt64) {
            self.round = round
            self.baseVersion = baseVersion
        }
    }

    /// What the agent must do.
    public enum Action: Sendable, Equatable {
        /// Long-poll `GET /v1/task`.
        case pollTask
        /// Download, verify and install model `version`.
        case fetchModel(version: UInt64)
        /// Adapt on the spool's captures against the installed model.
        case adapt(Task)
        /// Upload the prepared delta for the task's round.
        case upload(Task)
        /// Nothing until the timer fires at the given time.
        case sleep(until: Double)
    }

    /// How an upload ended.
    public enum UploadOutcome: Sendable, Equatable {
        case accepted
        /// The coordinator will never take this delta (round closed, duplicate, invalid, forbidden).
        case refused(status: Int, code: String)
        /// It may take it later (no connection, timeout, 5xx, 429).
        case transportFailure
    }

    public private(set) var state: State = .polling
    /// The model version installed on the node.
    public private(set) var installedVersion: UInt64
    /// Deltas dropped because the coordinator refused them, for metrics.
    public private(set) var refusedUploads = 0
    private var backoff: Backoff

    public init(installedVersion: UInt64, backoff: Backoff) {
        self.installedVersion = installedVersion
        self.backoff = backoff
    }

    /// The first action after start.
    public func start() -> Action { .pollTask }

    // MARK: Events

    /// The poll answered with a task.
    public mutating func taskReceived(_ task: Task) -> Action {
        backoff.reset()
        if task.baseVersion != installedVersion {
            state = .fetchingModel(version: task.baseVersion, then: task)
            return .fetchModel(version: task.baseVersion)
        }
        state = .adapting(task)
        return .adapt(task)
    }

    /// The poll answered that there is no work; `latestVersion` is the coordinator's current one.
    public mutating func noTask(latestVersion: UInt64?) -> Action {
        backoff.reset()
        if let latestVersion, latestVersion > installedVersion {
            state = .fetchingModel(version: latestVersion, then: nil)
            return .fetchModel(version: latestVersion)
        }
        state = .polling
        return .pollTask
    }

    /// A model was downloaded, its signature and hash verified, and swapped in.
    public mutating func modelInstalled(version: UInt64) -> Action {
        installedVersion = version
        backoff.reset()
        if case .fetchingModel(_, let task?) = state, task.baseVersion == version {
            state = .adapting(task)
            return .adapt(task)
        }
        state = .polling
        return .pollTask
    }

    /// The download failed verification: never use it; ask again later.
    public mutating func modelRejected(now: Double) -> Action {
        retryLater(resume: .polling, now: now)
    }

    /// Adaptation produced a delta (or found nothing worth sending).
    public mutating func adaptationFinished(producedDelta: Bool) -> Action {
        guard case .adapting(let task) = state else { return .pollTask }
        guard producedDelta else {
            state = .polling
            return .pollTask
        }
        state = .uploading(task)
        return .upload(task)
    }

    /// The upload ended.
    public mutating func uploadFinished(_ outcome: UploadOutcome, now: Double) -> Action {
        guard case .uploading = state else { return .pollTask }
        switch outcome {
        case .accepted:
            backoff.reset()
            state = .polling
            return .pollTask
        case .refused:
            refusedUploads += 1
            backoff.reset()
            state = .polling
            return .pollTask
        case .transportFailure:
            return retryLater(resume: state, now: now)
        }
    }

    /// A poll, a download or an upload could not reach the coordinator: the
    /// same request is repeated after a backoff.
    public mutating func transportFailed(now: Double) -> Action {
        switch state {
        case .fetchingModel, .uploading: retryLater(resume: state, now: now)
        default: retryLater(resume: .polling, now: now)
        }
    }

    /// The backoff timer fired.
    public mutating func timerFired(now: Double) -> Action {
        guard case .backingOff(let resume, let until) = state else { return .sleep(until: now) }
        guard now >= until else { return .sleep(until: until) }
        state = resume
        return request(for: resume)
    }

    // MARK: Internals

    /// The request that (re)starts a state.
    private func request(for state: State) -> Action {
        switch state {
        case .fetchingModel(let version, _): .fetchModel(version: version)
        case .uploading(let task): .upload(task)
        case .adapting(let task): .adapt(task)
        case .polling, .backingOff: .pollTask
        }
    }

    private mutating func retryLater(resume: State, now: Double) -> Action {
        let until = now + backoff.nextDelay()
        state = .backingOff(resume: resume, until: until)
        return .sleep(until: until)
    }
}
