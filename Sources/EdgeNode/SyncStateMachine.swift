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
///
/// **Never back.** The node keeps a *floor*: the highest version it ever
/// verified and installed (persisted, so it survives restarts). It installs
/// only the version it asked for, and only if that version is newer than the
/// one it holds and not below the floor (``refusal(ofInstalling:requested:)``);
/// anything else — a validly signed but older version served by a stale
/// coordinator or a man in the middle — is refused and never drives. A task
/// on a base older than what the node drives fetches that version only to
/// learn on (``Action/fetchBase(_:)``); it is never installed. Refused and
/// unverifiable downloads wait out a second backoff that only an installed
/// version resets, with a floor under each wait, so a coordinator that
/// answers at once is not asked again in a hot loop.
public struct SyncStateMachine: Sendable {
    /// What the node is doing.
    public indirect enum State: Sendable, Equatable {
        case polling
        case fetchingModel(version: UInt64, then: Task?)
        /// Downloading the task's older base to learn on, not to drive.
        case fetchingBase(Task)
        case adapting(Task)
        case uploading(Task)
        /// Waiting out a backoff before going back to `resume` and repeating its request.
        case backingOff(resume: State, until: Double)

        /// The version being downloaded (or to be, after a backoff), if any.
        public var requestedVersion: UInt64? {
            switch self {
            case .fetchingModel(let version, _): version
            case .fetchingBase(let task): task.baseVersion
            case .backingOff(let resume, _): resume.requestedVersion
            case .polling, .adapting, .uploading: nil
            }
        }
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
        /// Download and verify exactly the task's base version (older than the installed one)
        /// to adapt on; it is never installed and never drives.
        case fetchBase(Task)
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
    /// The highest version this node ever verified and installed: nothing below it is installed again.
    public private(set) var floor: UInt64
    /// Deltas dropped because the coordinator refused them, for metrics.
    public private(set) var refusedUploads = 0
    /// Downloads refused (wrong or older version) or failing verification, for metrics.
    public private(set) var refusedModels = 0
    private var backoff: Backoff
    /// Waits after refused downloads; reset only when a version is installed.
    private var refusalBackoff: Backoff

    /// - Parameters:
    ///   - installedVersion: the version driving now (0: none signed yet).
    ///   - floor: the highest version ever installed, as persisted (raised to `installedVersion`).
    ///   - backoff: waits after transport failures.
    ///   - refusalBackoff: waits after refused downloads (default: `backoff`'s, with a 2 s base).
    public init(installedVersion: UInt64, floor: UInt64 = 0, backoff: Backoff, refusalBackoff: Backoff? = nil) {
        self.installedVersion = installedVersion
        self.floor = max(floor, installedVersion)
        self.backoff = backoff
        self.refusalBackoff = refusalBackoff ?? Backoff(base: max(2, backoff.base), cap: max(600, backoff.cap), seed: 0x5EF0_5A15)
    }

    /// Why a verified download may not be installed.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        /// The answer is another version than the one asked for.
        case notRequested(version: UInt64, requested: UInt64)
        /// The version is not newer than the installed one, or below the floor.
        case rollback(version: UInt64, installed: UInt64, floor: UInt64)

        public var description: String {
            switch self {
            case .notRequested(let version, let requested):
                "the coordinator answered with version \(version) when version \(requested) was asked for"
            case .rollback(let version, let installed, let floor):
                "version \(version) would be a rollback: the node runs version \(installed) and never installs below version \(floor); "
                    + "an older validly signed version is served by a stale or compromised coordinator or by a man in the middle"
            }
        }
    }

    /// Whether a download of `version`, verified, may be installed when `requested` was asked for; nil if it may.
    public func refusal(ofInstalling version: UInt64, requested: UInt64) -> Refusal? {
        if version < floor || version <= installedVersion {
            return .rollback(version: version, installed: installedVersion, floor: floor)
        }
        if version != requested { return .notRequested(version: version, requested: requested) }
        return nil
    }

    /// Whether `version` may be installed at all: newer than the installed one and not below the floor.
    public func mayInstall(_ version: UInt64) -> Bool { version > installedVersion && version >= floor }

    /// The first action after start.
    public func start() -> Action { .pollTask }

    // MARK: Events

    /// The poll answered with a task.
    public mutating func taskReceived(_ task: Task) -> Action {
        backoff.reset()
        if task.baseVersion == installedVersion {
            state = .adapting(task)
            return .adapt(task)
        }
        if mayInstall(task.baseVersion) {
            state = .fetchingModel(version: task.baseVersion, then: task)
            return .fetchModel(version: task.baseVersion)
        }
        // An older base: learn on it, keep driving the newer version.
        state = .fetchingBase(task)
        return .fetchBase(task)
    }

    /// The poll answered that there is no work; `latestVersion` is the coordinator's current one.
    public mutating func noTask(latestVersion: UInt64?) -> Action {
        backoff.reset()
        if let latestVersion, mayInstall(latestVersion) {
            state = .fetchingModel(version: latestVersion, then: nil)
            return .fetchModel(version: latestVersion)
        }
        state = .polling
        return .pollTask
    }

    /// A model was downloaded, its signature and hash verified, and swapped in.
    public mutating func modelInstalled(version: UInt64) -> Action {
        if version != installedVersion { refusalBackoff.reset() }
        installedVersion = version
        floor = max(floor, version)
        backoff.reset()
        if case .fetchingModel(_, let task?) = state, task.baseVersion == version {
            state = .adapting(task)
            return .adapt(task)
        }
        state = .polling
        return .pollTask
    }

    /// The task's older base was downloaded and verified: adapt on it (the installed version keeps driving).
    public mutating func baseFetched(version: UInt64) -> Action {
        refusalBackoff.reset()
        backoff.reset()
        if case .fetchingBase(let task) = state, task.baseVersion == version {
            state = .adapting(task)
            return .adapt(task)
        }
        state = .polling
        return .pollTask
    }

    /// The download failed verification, or verified but was refused (``refusal(ofInstalling:requested:)``):
    /// never use it; ask again only after a wait that grows with every refusal in a row.
    public mutating func modelRejected(now: Double) -> Action {
        refusedModels += 1
        let until = now + refusalBackoff.nextDelayAtLeastHalf()
        state = .backingOff(resume: .polling, until: until)
        return .sleep(until: until)
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
        case .fetchingModel, .fetchingBase, .uploading: retryLater(resume: state, now: now)
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
        case .fetchingBase(let task): .fetchBase(task)
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
