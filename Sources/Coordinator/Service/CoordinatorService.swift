import Aggregation
import Metrics
import DrivingSimulator
import Foundation
public import FleetWire
public import Logging
public import PolicyNetwork
public import SecureTransport
public import ServiceLifecycle

/// The coordinator: rounds, aggregation, the regression gate and versions,
/// usable in-process (no HTTP) and served over HTTPS by ``CoordinatorHTTPServer``.
///
/// Why an actor around a pure state machine: ``RoundStateMachine`` decides
/// (open, close, abandon, gate); this actor carries its actions out — it
/// stores rounds and acknowledged updates, folds updates into a
/// ``RoundAggregator`` as they arrive, builds and gates the candidate, and
/// publishes a signed version. Decoding an upload happens outside the actor,
/// so uploads from many nodes decode in parallel; only validation and the
/// fold (O(touched tensors)) are serialized.
///
/// Crash safety: an update is answered 202 only after its body is durable in
/// the ``BlobStore`` and its row in the database. On start the service serves
/// the newest published version and *resumes* the unfinished round: its
/// acknowledged update bodies are decoded and folded again, in arrival order,
/// so a node whose upload was acknowledged never has to send it again
/// (`Protocols/coordinator-state.md`).
public actor CoordinatorService: Service {
    public nonisolated let configuration: CoordinatorConfiguration
    nonisolated let clock: any CoordinatorClock
    public nonisolated let store: CoordinatorStore
    /// Who was heard from, who is invited, who sent — in the database.
    nonisolated let ledger: StoredRoundLedger
    public nonisolated let blobs: BlobStore
    public nonisolated let registry: ModelRegistry
    nonisolated let gate: RegressionGate
    nonisolated let metrics: CoordinatorMetrics
    nonisolated let logger: Logger
    /// Wakes long-polling task requests when a round opens.
    nonisolated let roundOpened = RoundSignal()
    /// Wakes the timer loop when a round closed and waits for aggregation.
    nonisolated let workQueued = RoundSignal()
    /// Signs the short-lived statement of the current version that heartbeat replies carry.
    nonisolated let freshness: FreshnessSigner

    var state: RoundStateMachine
    var currentPolicy: MoEPolicy
    var served: ServedModel
    /// The current version's delta from its parent, when one is stored.
    var servedDelta: ServedDelta?
    /// Compresses each candidate's step into the delta nodes download; its residuals carry what was left out.
    var downlink: StepCompressor
    var aggregators: [UInt64: RoundAggregator] = [:]
    var optimizer: ServerOptimizer
    /// The current version's gold-suite report, reused for every candidate.
    var currentReport: (version: UInt64, report: EvaluationReport)?
    /// The fleet's first version's gold-suite report, for the gate's drift tolerance (made on first use).
    var referenceReport: EvaluationReport?
    /// Rounds closed and waiting to be aggregated and gated, in order.
    var pendingFinishing: [RoundStateMachine.Round] = []
    /// Set when the newest published version could not be loaded on start
    /// and an older intact one is served instead (shown in the status).
    var storageWarning: String?
    /// Published versions that could not be loaded (never tried again).
    var unloadableVersions: Set<UInt64> = []
    var isFinishing = false

    /// Opens (or creates) the coordinator's state in `configuration.dataDirectory`.
    ///
    /// - Parameters:
    ///   - initialModel: The seed model, published as version 1 when the
    ///     store has no version yet; not called otherwise.
    ///   - signingKey: The Ed25519 key versions are signed with.
    ///   - gate: The regression gate (see ``RegressionGate/make(content:configuration:selection:)``).
    /// - Throws: ``CoordinatorError`` naming the bad configuration field or the damaged file.
    public init(
        configuration: CoordinatorConfiguration,
        initialModel: () throws -> MoEPolicy,
        signingKey: PrivateKey,
        gate: RegressionGate,
        clock: any CoordinatorClock = SystemCoordinatorClock(),
        metrics: CoordinatorMetrics = CoordinatorMetrics(),
        logger: Logger = Logger(label: "fleet.coordinator")
    ) async throws(CoordinatorError) {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        self.gate = gate
        self.metrics = metrics
        self.logger = logger
        let directory = configuration.dataDirectory
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CoordinatorError(.storage, "cannot create the data directory \(directory.path): \(error)")
        }
        store = try CoordinatorStore(path: directory.appendingPathComponent("state.sqlite").path)
        ledger = StoredRoundLedger(store: store, logger: logger)
        blobs = try BlobStore(directory: directory.appendingPathComponent("blobs"))
        registry = ModelRegistry(store: store, blobs: blobs, signingKey: signingKey)
        freshness = FreshnessSigner(signingKey: signingKey, validity: configuration.freshnessValidity, logger: logger)
        optimizer = ServerOptimizer(kind: configuration.serverOptimizer)
        do {
            downlink = try StepCompressor(configuration: configuration.downlink)
        } catch {
            throw CoordinatorError(.invalidConfiguration, error.message)
        }

        let now = clock.now()
        var latest = try registry.latest()
        if latest == nil {
            let seed: MoEPolicy
            do { seed = try initialModel() } catch {
                throw CoordinatorError(.invalidConfiguration, "the seed model cannot be loaded: \(error)")
            }
            latest = try registry.record(
                seed, status: .published, parent: nil, round: nil, createdAt: Self.iso8601(now), at: now,
                notes: "seed model"
            )
            try store.audit("version", subject: "1", detail: "seed model published", at: now)
        }
        let intact = try Self.newestIntactVersion(registry: registry, newest: latest!, logger: logger)
        let current = intact.version
        currentPolicy = intact.policy
        served = intact.served
        storageWarning = intact.warning
        unloadableVersions = intact.damaged
        if let warning = intact.warning {
            try store.audit("version", subject: "\(current.number)", detail: warning, at: now)
        }
        servedDelta = Self.storedDelta(of: current, registry: registry, logger: logger)
        state = try RoundStateMachine(
            configuration: configuration.rounds, ledger: ledger, currentVersion: current.number,
            nextRoundNumber: try store.highestRoundNumber() + 1
        )
        metrics.currentVersion.record(Int64(clamping: current.number))
        try recoverUnfinishedRounds(at: now)
    }

    /// The newest published version whose checkpoint is intact, starting from `newest`.
    ///
    /// A damaged checkpoint (a flipped bit fails its hash) must not keep the
    /// coordinator from starting: it serves the newest version it can still
    /// prove, and says so in its log, its audit trail and its status.
    static func newestIntactVersion(
        registry: ModelRegistry, newest: PublishedVersion, logger: Logger
    ) throws(CoordinatorError) -> (version: PublishedVersion, policy: MoEPolicy, served: ServedModel, warning: String?, damaged: Set<UInt64>) {
        var candidates = [newest]
        var damaged: [(UInt64, String)] = []
        var listed = false
        while !candidates.isEmpty {
            let version = candidates.removeFirst()
            do throws(CoordinatorError) {
                let policy = try registry.policy(of: version)
                let served = try ServedModel(version: version, checkpoint: try registry.checkpoint(of: version))
                guard !damaged.isEmpty else { return (version, policy, served, nil, []) }
                let list = damaged.map { "version \($0.0) (\($0.1))" }.joined(separator: "; ")
                let warning = "serving version \(version.number): the newer published " + list + " could not be loaded"
                logger.error("serving an older version: a newer one is damaged", metadata: ["version": "\(version.number)", "damaged": "\(list)"])
                return (version, policy, served, warning, Set(damaged.map(\.0)))
            } catch {
                damaged.append((version.number, error.message))
                logger.error("a published version cannot be loaded", metadata: ["version": "\(version.number)", "error": "\(error.message)"])
                if !listed {
                    listed = true
                    candidates = try registry.all().filter { $0.status == .published && $0.number < version.number }
                }
            }
        }
        throw CoordinatorError(
            .storage,
            "no published version can be loaded: " + damaged.map { "version \($0.0): \($0.1)" }.joined(separator: "; ")
        )
    }

    // MARK: Nodes

    /// A node's heartbeat: it is alive (even during long local work).
    public func heartbeat(from node: String, _ heartbeat: API.Heartbeat) -> API.HeartbeatReply {
        let now = clock.now()
        state.nodeSeen(node, at: now)
        ledger.noteDetails(of: node, at: now, region: heartbeat.region, modelVersion: heartbeat.modelVersion)
        return API.HeartbeatReply(
            currentVersion: state.currentVersion, openRound: state.collecting?.number,
            heartbeatInterval: configuration.heartbeatInterval,
            freshness: freshness.statement(version: served.version, contentHash: served.contentHash, now: now)
        )
    }

    /// Work for `node`: a task when it is invited to the open round, else nil
    /// after waiting up to `wait` seconds (bounded by ``CoordinatorConfiguration/maxTaskWait``)
    /// for a round to open.
    public func task(for node: String, wait: Double = 0) async -> API.Task? {
        let deadline = clock.now() + min(max(wait, 0), configuration.maxTaskWait)
        while true {
            let now = clock.now()
            // Taken before the state is read: a round that opens while this
            // request waits for the actor still wakes it.
            let seen = roundOpened.generation
            let (decision, action) = state.taskRequested(by: node, at: now)
            perform(action, at: now)
            if case .participate(let round, let baseVersion) = decision {
                let openedAt = state.collecting?.openedAt ?? now
                return API.Task(
                    round: round, baseVersion: baseVersion,
                    deadlineSeconds: max(0, openedAt + configuration.rounds.deadline - now)
                )
            }
            let remaining = deadline - clock.now()
            if remaining <= 0 || Task.isCancelled || roundOpened.isClosed { return nil }
            // A graceful shutdown answers every long poll at once (204), so it never waits for them.
            let signal = roundOpened
            await withGracefulShutdownHandler {
                await waitForSignal(signal, after: seen, timeout: remaining)
            } onGracefulShutdown: {
                signal.close()
            }
        }
    }

    /// Waits for a `signal` sent after `generation`, or `timeout` seconds, whichever comes first.
    nonisolated func waitForSignal(_ signal: RoundSignal, after generation: Int, timeout: Double) async {
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(seconds: timeout) }
            group.addTask { await signal.wait(after: generation) }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: Models and versions

    /// The current version, ready to serve.
    public func currentModel() -> ServedModel { served }

    /// What a node holding version `known` (nil: none) downloads to run the current version:
    /// nothing, the delta from the parent it holds, or the whole checkpoint.
    public func modelAnswer(forNodeHolding known: UInt64?) -> ModelAnswer {
        if known == served.version { return .notModified(etag: served.etag) }
        if let delta = servedDelta, let known, delta.parent == known { return .delta(delta) }
        return .checkpoint(served)
    }

    /// Version `number`'s delta from its parent (any status), ready to serve.
    ///
    /// - Throws: ``CoordinatorError/Code/notFound`` for an unknown version or one
    ///   stored without a delta (the seed model, versions from before deltas were kept).
    public func modelDelta(version number: UInt64) throws(CoordinatorError) -> ServedDelta {
        if let delta = servedDelta, delta.version == number { return delta }
        guard let version = try registry.version(number) else {
            throw CoordinatorError(.notFound, "there is no version \(number)")
        }
        guard let parent = version.manifest.parent, let bytes = try registry.delta(of: version) else {
            throw CoordinatorError(
                .notFound, "version \(number) has no stored delta from a parent; GET /v1/models/\(number) for its checkpoint")
        }
        return ServedDelta(version: version, parent: parent, compressedDelta: bytes)
    }

    /// Version `number` (any status), ready to serve.
    public func model(version number: UInt64) throws(CoordinatorError) -> ServedModel {
        if number == served.version { return served }
        guard let version = try registry.version(number) else {
            throw CoordinatorError(.notFound, "there is no version \(number)")
        }
        return try ServedModel(version: version, checkpoint: try registry.checkpoint(of: version))
    }

    /// Every version and candidate, newest first.
    public nonisolated func versions() throws(CoordinatorError) -> [PublishedVersion] {
        try registry.all()
    }

    /// One version.
    public nonisolated func version(_ number: UInt64) throws(CoordinatorError) -> PublishedVersion {
        guard let version = try registry.version(number) else {
            throw CoordinatorError(.notFound, "there is no version \(number)")
        }
        return version
    }

    /// The number of the version nodes should run.
    public var currentVersion: UInt64 { state.currentVersion }

    /// An operator approves a candidate that passed the gate: it is signed,
    /// published and becomes current (if newer).
    public func approve(version number: UInt64, by approver: String) throws(CoordinatorError) -> PublishedVersion {
        let approved = try registry.approve(number)
        let now = clock.now()
        try store.audit("approve", subject: "\(number)", detail: "approved by \(approver)", at: now)
        if let round = approved.manifest.round, var row = try store.round(round), row.status == .awaitingApproval {
            row.status = .published
            try store.save(row)
        }
        try adopt(approved)
        return approved
    }

    /// Makes `version` current if it is newer than the current one.
    func adopt(_ version: PublishedVersion) throws(CoordinatorError) {
        guard version.status == .published, version.number > served.version else { return }
        currentPolicy = try registry.policy(of: version)
        served = try ServedModel(version: version, checkpoint: try registry.checkpoint(of: version))
        servedDelta = Self.storedDelta(of: version, registry: registry, logger: logger)
        state.versionPublished(version.number)
        metrics.currentVersion.record(Int64(clamping: version.number))
        logger.info("serving version", metadata: ["version": "\(version.number)"])
    }

    // MARK: Status and dashboard

    /// The coordinator's state at a glance.
    public func status() -> API.Status {
        let now = clock.now()
        var round: API.Status.Round?
        if let open = state.collecting {
            round = .init(
                number: open.number, phase: "collecting", participants: open.invitedCount ?? 0,
                accepted: open.acceptedCount, deadlineSeconds: max(0, open.openedAt + configuration.rounds.deadline - now)
            )
        } else if let (closing, stage) = state.finishing {
            round = .init(
                number: closing.number, phase: stage.rawValue, participants: closing.invitedCount ?? 0,
                accepted: closing.acceptedCount, deadlineSeconds: 0
            )
        }
        return API.Status(
            currentVersion: state.currentVersion, nodesOnline: state.liveCount(at: now), round: round, storageWarning: storageWarning)
    }

    /// The HTML dashboard.
    public func dashboard() throws(CoordinatorError) -> String {
        let versions = try store.versions().map { record in
            (record: record, manifest: try? ModelManifest.decode([UInt8](record.manifest)))
        }
        let phase = state.collecting != nil ? "collecting" : state.finishing?.stage.rawValue ?? "idle"
        let now = clock.now()
        return DashboardPage(.init(
            now: now, currentVersion: state.currentVersion,
            nodesOnline: state.liveCount(at: now), nodesKnown: try store.nodeCount(),
            recentNodes: try store.recentNodes(limit: DashboardPage.nodesShown),
            round: state.collecting ?? state.finishing?.round, phase: phase,
            versions: versions, audit: try store.auditTrail(limit: 50)
        )).render()
    }

    // MARK: Timer

    /// Runs the timer loop until cancelled or a graceful shutdown: rounds open,
    /// close at their deadline, closed rounds are aggregated and gated.
    public func run() async throws {
        logger.info("coordinator running", metadata: ["version": "\(state.currentVersion)"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let seen = self.workQueued.generation
                await self.tick()
                await self.waitForSignal(self.workQueued, after: seen, timeout: self.configuration.tickInterval)
            }
        }
        logger.info("coordinator stopped")
    }

    /// One step of the timer: adopt versions approved from outside, let the
    /// state machine open or close rounds, then aggregate and gate what closed.
    public func tick() async {
        let now = clock.now()
        do {
            if let latest = try registry.latest(), latest.number > served.version, !unloadableVersions.contains(latest.number) {
                do throws(CoordinatorError) {
                    try adopt(latest)
                } catch {
                    // Tried once: a damaged version stays served by the one before it.
                    unloadableVersions.insert(latest.number)
                    storageWarning = "serving version \(served.version): version \(latest.number) could not be loaded (\(error.message))"
                    logger.error("a published version cannot be loaded", metadata: ["version": "\(latest.number)", "error": "\(error.message)"])
                }
            }
        } catch {
            logger.error("cannot read the latest version", metadata: ["error": "\(error.message)"])
        }
        ledger.flush()
        perform(state.tick(at: now), at: now)
        metrics.nodesOnline.record(Int64(state.liveCount(at: now)))
        await finishPendingRounds()
    }

    // MARK: Helpers

    /// A version's stored delta, ready to serve; nil when it has none or the blob
    /// cannot be read (nodes then get the checkpoint, which is always there).
    static func storedDelta(of version: PublishedVersion, registry: ModelRegistry, logger: Logger) -> ServedDelta? {
        guard let parent = version.manifest.parent else { return nil }
        do {
            return try registry.delta(of: version).map { ServedDelta(version: version, parent: parent, compressedDelta: $0) }
        } catch {
            logger.error("cannot read the stored delta; nodes get the checkpoint", metadata: [
                "version": "\(version.number)", "error": "\(error.message)",
            ])
            return nil
        }
    }

    static func iso8601(_ time: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }
}
