import CoreMetrics
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import Logging
import PolicyNetwork

/// The sync half of the agent: carries out ``SyncStateMachine``'s actions.
///
/// Poll for a task (long poll), fetch and verify models, adapt on the
/// spool's captures with ``EdgeLearner`` while heartbeats keep the node
/// alive, upload the delta, and back off with jitter whenever the coordinator
/// cannot be reached. The state machine decides; this loop only performs the
/// I/O and reports each outcome back as the next event.
///
/// Rollback and freeze: a verified download is installed only when
/// ``SyncStateMachine/refusal(ofInstalling:requested:)`` finds nothing against
/// it (the version asked for, newer than the installed one and the floor) and,
/// when a freshness statement named that version, only with the statement's
/// content hash. The coordinator's current version is believed from its signed
/// freshness statement as ``FreshnessTracker`` accepts it; when no valid one has
/// come for longer than allowed, the node reports the coordinator stale (log,
/// event, the `fleet_node_coordinator_stale` gauge) and keeps driving what it has.
struct SyncLoop {
    let agent: AgentContext
    private var machine: SyncStateMachine
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    /// The coordinator's current version, as its last heartbeat reply said.
    private var coordinatorVersion: UInt64?
    private var heartbeatInterval: Double
    private var lastHeartbeat: ContinuousClock.Instant?
    private var compressor: DeltaCompressor
    /// The delta waiting to be uploaded and the spool records it consumed.
    private var pending: (round: UInt64, body: [UInt8], consumed: [UInt64])?
    /// The anchor set of the version it was labelled for.
    private var anchor: (version: UInt64, set: TrainingSet)?
    /// The last round this node had nothing to send for.
    private var declinedRound: UInt64?
    /// The coordinator's freshness statements: which to believe, and whether it has gone stale.
    private var freshness: FreshnessTracker
    /// Whether the coordinator was last reported stale.
    private var reportedStale = false
    /// A task's base older than the installed version, verified, to learn on (never installed).
    private var trainingBase: LivePolicy.Snapshot?

    init(agent: AgentContext) {
        self.agent = agent
        let configuration = agent.configuration
        machine = SyncStateMachine(
            installedVersion: agent.live.version ?? 0, floor: agent.floor,
            backoff: Backoff(base: configuration.backoffBase, cap: configuration.backoffCap, seed: configuration.seed ^ 0xBAC0_FF00),
            refusalBackoff: Backoff(
                base: configuration.refusalBackoffBase, cap: configuration.refusalBackoffCap, seed: configuration.seed ^ 0x5EF0_5A15))
        freshness = FreshnessTracker(
            newest: agent.freshness, startedAt: agent.wallClock(), clockSkew: configuration.clockSkewAllowance,
            gracePeriod: configuration.freshnessGracePeriod)
        started = clock.now
        heartbeatInterval = configuration.heartbeatInterval
        compressor = DeltaCompressor(configuration: configuration.learner.compression)
    }

    private var now: Double {
        let elapsed = clock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    mutating func run() async {
        _ = await heartbeat(.idle)
        var action = machine.start()
        while !Task.isCancelled {
            switch action {
            case .pollTask:
                action = await poll()
            case .fetchModel(let version):
                action = await fetch(version)
            case .fetchBase(let task):
                action = await fetchBase(task)
            case .adapt(let task):
                action = await adapt(task)
            case .upload(let task):
                action = await upload(task)
            case .sleep(let until):
                let wait = max(0, until - now)
                do { try await Task.sleep(for: .seconds(wait)) } catch { return }
                action = machine.timerFired(now: now)
            }
        }
    }

    // MARK: Steps

    private mutating func poll() async -> SyncStateMachine.Action {
        if lastHeartbeat.map({ clock.now - $0 >= .seconds(heartbeatInterval) }) ?? true {
            _ = await heartbeat(.driving)
        }
        do {
            if let task = try await agent.connection.pollTask(waitSeconds: agent.configuration.pollWaitSeconds) {
                if task.round == declinedRound && agent.spool.count == 0 {
                    // The coordinator offers the same round again at once, and there is still nothing
                    // to learn from: wait a little instead of asking again in a tight loop.
                    let pause = Double(max(1, min(agent.configuration.pollWaitSeconds, 5)))
                    do { try await Task.sleep(for: .seconds(pause)) } catch { return .pollTask }
                    return machine.noTask(latestVersion: coordinatorVersion)
                }
                agent.logger.info("task received", metadata: ["round": "\(task.round)", "base": "\(task.baseVersion)"])
                agent.emit(.taskReceived(round: task.round, baseVersion: task.baseVersion))
                if let compression = task.compression {
                    if let fraction = compression.fraction, fraction > 0, fraction <= 1 { compressor.configuration.fraction = fraction }
                    if let quantize = compression.quantize { compressor.configuration.quantize = quantize }
                }
                return machine.taskReceived(.init(round: task.round, baseVersion: task.baseVersion))
            }
            return machine.noTask(latestVersion: coordinatorVersion)
        } catch {
            return transportFailed(error)
        }
    }

    private mutating func fetch(_ version: UInt64) async -> SyncStateMachine.Action {
        let held = agent.live.snapshot.flatMap { $0.version > 0 ? $0 : nil }
        // Weights no signed manifest has vouched for yet: the policy the node was provisioned with.
        let provisioned = held == nil ? agent.live.snapshot.map { $0.policy.checkpoint() } : nil
        // A task names its base exactly (it may be older than the current version);
        // otherwise ask for the current one, which costs a 304 if nothing changed
        // and only the change when the node holds its parent. A provisioned node
        // names its weights' hash: if they are the version asked for, only the
        // signed manifest comes back.
        var forTask = false
        if case .fetchingModel(_, let task) = machine.state { forTask = task != nil }
        let exact: UInt64? = forTask || version != coordinatorVersion ? version : nil
        let request: ModelRequest = if let provisioned {
            .unlessHolding(contentHash: ModelVerifier.contentHash(of: provisioned), version: exact)
        } else {
            exact.map(ModelRequest.version) ?? .current(ifNoneMatch: held?.version)
        }
        let model: VerifiedModel
        do {
            switch try await agent.connection.fetchModel(request) {
            case .notModified:
                let installed = agent.live.version ?? 0
                guard installed == version else {
                    // "Not modified" while a newer version is current: a frozen answer, not an install.
                    return refuse(.notRequested(version: installed, requested: version), "answered 304 Not Modified")
                }
                return machine.modelInstalled(version: installed)
            case .model(let download):
                model = try verified(download)
            case .delta(let delta):
                model = try await verified(delta, held: held)
            case .confirmed(let confirmation):
                model = try await verified(confirmation, provisioned: provisioned)
            }
        } catch let error as ConnectionError {
            return transportFailed(error)
        } catch {
            return machine.modelRejected(now: now)
        }
        if let refusal = machine.refusal(ofInstalling: model.version, requested: version) {
            return refuse(refusal, "")
        }
        if let statement = freshness.newest, statement.version == model.version, statement.contentHash != model.manifest.contentHash {
            return refuse(.notRequested(version: model.version, requested: version),
                          "its content hash \(model.manifest.contentHash) is not the \(statement.contentHash) the freshness statement names")
        }
        do {
            try agent.store.save(model)
        } catch {
            agent.metrics.modelsRejected.increment()
            agent.logger.error("model rejected", metadata: ["version": "\(model.version)", "error": "\(error.message)"])
            agent.emit(.modelRejected(version: model.version, message: error.message))
            return machine.modelRejected(now: now)
        }
        agent.live.install(version: model.version, policy: model.policy)
        agent.metrics.modelsInstalled.increment()
        agent.metrics.modelVersion.record(Int64(clamping: model.version))
        agent.metrics.versionFloor.record(Int64(clamping: max(machine.floor, model.version)))
        agent.logger.notice("model installed", metadata: [
            "version": "\(model.version)", "round": "\(model.manifest.round.map(String.init) ?? "none")",
        ])
        agent.emit(.modelInstalled(version: model.version))
        return machine.modelInstalled(version: model.version)
    }

    /// A task's base older than the installed version: downloaded exactly, verified, kept to learn on — never installed.
    private mutating func fetchBase(_ task: SyncStateMachine.Task) async -> SyncStateMachine.Action {
        let version = task.baseVersion
        if let trainingBase, trainingBase.version == version { return machine.baseFetched(version: version) }
        let model: VerifiedModel
        do {
            model = try await verifiedCheckpoint(of: version)
        } catch let error as ConnectionError {
            return transportFailed(error)
        } catch {
            return machine.modelRejected(now: now)
        }
        guard model.version == version else {
            return refuse(.notRequested(version: model.version, requested: version), "as the task's base")
        }
        trainingBase = LivePolicy.Snapshot(version: version, policy: model.policy)
        agent.logger.info("the task's older base was fetched to learn on; it will not drive", metadata: [
            "base": "\(version)", "installed": "\(machine.installedVersion)", "round": "\(task.round)",
        ])
        agent.emit(.trainingBaseFetched(version: version))
        return machine.baseFetched(version: version)
    }

    /// A verified download the node will not install: counted, logged, reported, and asked for again only after a growing wait.
    private mutating func refuse(_ refusal: SyncStateMachine.Refusal, _ detail: String) -> SyncStateMachine.Action {
        let (version, requested): (UInt64, UInt64) = switch refusal {
        case .notRequested(let version, let requested): (version, requested)
        case .rollback(let version, _, _): (version, machine.state.requestedVersion ?? version)
        }
        agent.metrics.modelsRefused.increment()
        // The coordinator's view may simply have moved on since the last heartbeat: ask for it before the next try.
        lastHeartbeat = nil
        let action = machine.modelRejected(now: now)
        var retryIn = 0.0
        if case .sleep(let until) = action { retryIn = max(0, until - now) }
        let message = "\(refusal)" + (detail.isEmpty ? "" : " (\(detail))")
        agent.logger.error("model refused", metadata: [
            "version": "\(version)", "requested": "\(requested)", "floor": "\(machine.floor)", "error": "\(message)",
            "refusals": "\(machine.refusedModels)", "retryIn": "\(String(format: "%.2f", retryIn))",
        ])
        agent.emit(.modelRefused(version: version, requested: requested, floor: machine.floor))
        return action
    }

    /// A downloaded checkpoint, verified; a refusal is logged, counted and thrown.
    private func verified(_ download: ModelDownload) throws(AgentError) -> VerifiedModel {
        do {
            return try agent.verifier.verify(download)
        } catch {
            agent.metrics.modelsRejected.increment()
            agent.logger.error("model rejected", metadata: ["version": "\(download.version)", "error": "\(error.message)"])
            agent.emit(.modelRejected(version: download.version, message: error.message))
            throw error
        }
    }

    /// The version a delta rebuilds from the held model, verified; when the delta
    /// is refused, the version's whole checkpoint is downloaded and verified instead.
    private func verified(_ delta: ModelDeltaDownload, held: LivePolicy.Snapshot?) async throws -> VerifiedModel {
        if let held {
            do {
                return try agent.verifier.verify(delta, parentVersion: held.version, parent: held.policy)
            } catch {
                agent.logger.warning("model delta refused; downloading the checkpoint", metadata: [
                    "version": "\(delta.version)", "error": "\(error.message)",
                ])
            }
        }
        return try await verifiedCheckpoint(of: delta.version)
    }

    /// The provisioned weights as the version a 304 names, verified; when the signed
    /// manifest does not pin exactly them, the version's checkpoint is downloaded and verified instead.
    private func verified(_ confirmation: ModelConfirmation, provisioned: [UInt8]?) async throws -> VerifiedModel {
        if let provisioned {
            do {
                return try agent.verifier.verify(confirmation, checkpoint: provisioned)
            } catch {
                agent.logger.warning("the provisioned policy is not the version named; downloading the checkpoint", metadata: [
                    "version": "\(confirmation.version)", "error": "\(error.message)",
                ])
            }
        }
        return try await verifiedCheckpoint(of: confirmation.version)
    }

    /// Version `number`'s whole checkpoint, downloaded and verified.
    private func verifiedCheckpoint(of number: UInt64) async throws -> VerifiedModel {
        guard case .model(let download) = try await agent.connection.fetchModel(.version(number)) else {
            throw ConnectionError(.invalidResponse, "GET /v1/models/\(number) did not answer with a checkpoint")
        }
        return try verified(download)
    }

    private mutating func adapt(_ task: SyncStateMachine.Task) async -> SyncStateMachine.Action {
        pending = nil
        let base: LivePolicy.Snapshot
        if let trainingBase, trainingBase.version == task.baseVersion {
            base = trainingBase
        } else if let live = agent.live.snapshot, live.version == task.baseVersion {
            base = live
        } else {
            agent.logger.warning("the task's base is not the installed model", metadata: ["base": "\(task.baseVersion)"])
            return finishAdaptation(task, delta: false)
        }
        let spool = agent.spool.snapshot
        guard spool.count > 0 else {
            agent.logger.info("no captures to learn from this round", metadata: ["round": "\(task.round)"])
            return finishAdaptation(task, delta: false)
        }
        agent.metrics.adaptations.increment()
        let anchorSet = await anchorSet(for: base)
        let validation = (try? OrdinaryDriving(episodesPerFamily: agent.configuration.validationEpisodesPerFamily, firstIndex: 50_000)
            .items(library: agent.library)) ?? []
        var learnerConfiguration = agent.configuration.learner
        learnerConfiguration.compression = compressor.configuration
        learnerConfiguration.seed = agent.configuration.seed ^ task.round
        let learner = EdgeLearner(configuration: learnerConfiguration)
        let header = DeltaHeader(nodeID: agent.configuration.nodeID, baseVersion: task.baseVersion, round: task.round)
        let limit = agent.configuration.maxCapturesPerLesson
        let logger = agent.logger
        let startCompressor = compressor
        agent.logger.info("adapting", metadata: ["round": "\(task.round)", "captures": "\(min(spool.count, limit))"])
        agent.emit(.adaptationStarted(round: task.round, captures: min(spool.count, limit)))

        let agent = self.agent
        typealias Outcome = Result<(EdgeLearner.SpoolLesson, DeltaCompressor), LearningError>
        // The lesson runs as its own task so that a graceful shutdown need not wait for it: a lesson
        // of a thousand variations per capture takes minutes, and the learner only stops at its
        // next cancellation point (between rollouts, between epochs). Learning only reads the
        // spool, so abandoning it loses nothing — the captures stay until an upload is accepted.
        // It runs on threads of its own (``LearningExecutor``) so driving and heartbeats go on meanwhile.
        let finished = ResumeOnce<Outcome>()
        let work = Task.detached(executorPreference: LearningExecutor.shared, priority: .utility) {
            var compressor = startCompressor
            do throws(LearningError) {
                let lesson = try await learner.learn(
                    from: spool, limit: limit, base: base.policy, anchor: anchorSet, validation: validation, header: header,
                    compressor: &compressor, progress: { logger.debug("\($0)") })
                finished.resume(with: .success(.success((lesson, compressor))))
            } catch {
                finished.resume(with: .success(.failure(error)))
            }
        }
        let outcome: Outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    return try await withTaskCancellationHandler {
                        try await withCheckedThrowingContinuation { finished.set($0) }
                    } onCancel: {
                        finished.resume(with: .failure(CancellationError()))
                        work.cancel()
                    }
                } catch {
                    return .failure(LearningError(.nothingToLearn, "the adaptation was abandoned for shutdown"))
                }
            }
            group.addTask {
                // Heartbeats keep the node alive while it works.
                var interval = await Self.sendHeartbeat(agent, .adapting, modelVersion: base.version) ?? agent.configuration.heartbeatInterval
                while true {
                    do { try await Task.sleep(for: .seconds(interval)) } catch { return nil }
                    interval = await Self.sendHeartbeat(agent, .adapting, modelVersion: base.version) ?? interval
                }
            }
            var result: Outcome?
            for await value in group {
                if let value {
                    result = value
                    group.cancelAll()
                }
            }
            return result ?? .failure(LearningError(.nothingToLearn, "the adaptation was abandoned for shutdown"))
        }
        lastHeartbeat = clock.now
        switch outcome {
        case .success(let (lesson, updated)):
            compressor = updated
            for skipped in lesson.skipped {
                agent.logger.warning("a damaged capture was quarantined", metadata: ["file": "\(skipped.fileName)", "reason": "\(skipped.reason)"])
            }
            do {
                let body = try DeltaCodec.encodeCompressed(lesson.delta)
                pending = (task.round, body, lesson.consumed)
                agent.logger.info("adapted", metadata: [
                    "round": "\(task.round)", "bytes": "\(body.count)",
                    "failureBefore": "\(lesson.adaptation.before.failureRate)", "failureAfter": "\(lesson.adaptation.after.failureRate)",
                ])
                return finishAdaptation(task, delta: true)
            } catch {
                agent.logger.error("the delta could not be encoded", metadata: ["error": "\(error.message)"])
                return finishAdaptation(task, delta: false)
            }
        case .failure(let error) where Task.isCancelled:
            agent.logger.info("adaptation abandoned for shutdown; its captures stay in the spool", metadata: ["reason": "\(error.message)"])
            return finishAdaptation(task, delta: false)
        case .failure(let error):
            agent.logger.warning("adaptation produced no delta", metadata: ["error": "\(error.message)"])
            return finishAdaptation(task, delta: false)
        }
    }

    private mutating func finishAdaptation(_ task: SyncStateMachine.Task, delta: Bool) -> SyncStateMachine.Action {
        declinedRound = delta ? nil : task.round
        agent.emit(.adaptationFinished(round: task.round, delta: delta))
        return machine.adaptationFinished(producedDelta: delta)
    }

    private mutating func upload(_ task: SyncStateMachine.Task) async -> SyncStateMachine.Action {
        guard let pending, pending.round == task.round else {
            return machine.uploadFinished(.refused(status: 0, code: "no_delta"), now: now)
        }
        do {
            let receipt = try await agent.connection.uploadUpdate(round: task.round, compressedDelta: pending.body)
            agent.spool.remove(pending.consumed)
            self.pending = nil
            agent.metrics.uploadsAccepted.increment()
            agent.metrics.spoolCaptures.record(agent.spool.count)
            agent.logger.notice("update accepted", metadata: [
                "round": "\(receipt.round)", "accepted": "\(receipt.acceptedUpdates)", "captures": "\(pending.consumed.count)",
            ])
            agent.emit(.uploadAccepted(round: task.round, captures: pending.consumed.count))
            return machine.uploadFinished(.accepted, now: now)
        } catch where error.isTransportFailure {
            return transportFailed(error)
        } catch {
            self.pending = nil
            agent.metrics.uploadsRefused.increment()
            let status = error.status ?? 0
            let code = error.errorCode ?? error.code.name
            if [400, 413, 415, 422].contains(status) {
                // The update itself is bad: learning from the same captures would be refused again.
                agent.spool.remove(pending.consumed)
                agent.logger.error("update refused; its captures are discarded", metadata: ["round": "\(task.round)", "error": "\(error)"])
            } else {
                agent.logger.warning("update refused; its captures stay for the next round", metadata: [
                    "round": "\(task.round)", "error": "\(error)", "currentRound": "\(error.currentRound.map(String.init) ?? "none")",
                ])
            }
            agent.emit(.uploadRefused(round: task.round, status: status, code: code))
            return machine.uploadFinished(.refused(status: status, code: code), now: now)
        }
    }

    // MARK: Helpers

    private mutating func transportFailed(_ error: ConnectionError) -> SyncStateMachine.Action {
        if Task.isCancelled {
            // Graceful shutdown cut the request short: no sign of an unreachable coordinator, so
            // neither a warning nor a transport failure in the final metrics file.
            agent.logger.debug("request cancelled for shutdown", metadata: ["error": "\(error)"])
            return machine.transportFailed(now: now)
        }
        agent.metrics.transportFailures.increment()
        let action = machine.transportFailed(now: now)
        var retryIn = 0.0
        if case .sleep(let until) = action { retryIn = max(0, until - now) }
        agent.logger.warning("coordinator unreachable; retrying", metadata: [
            "error": "\(error)", "retryIn": "\(String(format: "%.2f", retryIn))",
        ])
        agent.emit(.transportFailed(message: error.description, retryIn: retryIn))
        return action
    }

    /// Sends a heartbeat now; remembers the coordinator's version (from its freshness statement when it sends one) and interval.
    private mutating func heartbeat(_ state: NodeHeartbeat.State) async -> Bool {
        lastHeartbeat = clock.now
        let reply = await Self.reply(agent, state, modelVersion: agent.live.version)
        defer { reportStaleness() }
        guard let reply else { return false }
        if let signed = reply.freshness {
            believe(signed)
        } else {
            // A coordinator from before freshness statements: its word is unsigned. The floor still
            // refuses any rollback, and with no statement the node reports it stale after the grace period.
            coordinatorVersion = reply.currentVersion
        }
        if reply.heartbeatInterval > 0, reply.heartbeatInterval.isFinite { heartbeatInterval = reply.heartbeatInterval }
        return true
    }

    /// Takes the coordinator's current version from its signed freshness statement, if the statement passes.
    private mutating func believe(_ signed: SignedFreshness) {
        let seen = freshness.newest
        do throws(AgentError) {
            let statement = try agent.verifier.verify(signed)
            try freshness.accept(statement, floor: machine.floor, now: agent.wallClock())
            coordinatorVersion = statement.version
            if seen?.issuedAt != statement.issuedAt || seen?.version != statement.version {
                do { try agent.store.saveFreshness(signed) } catch {
                    agent.logger.warning("the freshness statement could not be stored", metadata: ["error": "\(error.message)"])
                }
            }
        } catch {
            agent.metrics.freshnessRefused.increment()
            agent.logger.error("freshness statement refused", metadata: ["error": "\(error.message)", "check": "\(error.context["check"] ?? "")"])
            agent.emit(.freshnessRefused(message: error.message))
        }
    }

    /// Reports when the coordinator goes stale (no valid freshness statement for too long) and when it is fresh again.
    private mutating func reportStaleness() {
        let stale = freshness.isStale(now: agent.wallClock())
        guard stale != reportedStale else { return }
        reportedStale = stale
        agent.metrics.coordinatorStale.record(stale ? 1 : 0)
        if stale {
            agent.logger.error("coordinator stale: no valid freshness statement; possible freeze", metadata: [
                "lastIssuedAt": "\(freshness.newest.map { String($0.issuedAt) } ?? "none")",
                "expiredAt": "\(freshness.newest.map { String($0.expiresAt) } ?? "none")",
                "installed": "\(machine.installedVersion)",
            ])
            agent.emit(.coordinatorStale(lastIssuedAt: freshness.newest?.issuedAt))
        } else {
            agent.logger.notice("coordinator fresh again", metadata: ["version": "\(freshness.newest?.version ?? 0)"])
            agent.emit(.coordinatorFresh(version: freshness.newest?.version ?? 0))
        }
    }

    private static func sendHeartbeat(_ agent: AgentContext, _ state: NodeHeartbeat.State, modelVersion: UInt64?) async -> Double? {
        guard let reply = await reply(agent, state, modelVersion: modelVersion), reply.heartbeatInterval > 0 else { return nil }
        return reply.heartbeatInterval
    }

    private static func reply(_ agent: AgentContext, _ state: NodeHeartbeat.State, modelVersion: UInt64?) async -> HeartbeatReply? {
        let beat = NodeHeartbeat(
            state: state, modelVersion: modelVersion.flatMap { $0 > 0 ? $0 : nil }, region: agent.regionName,
            capturesPending: agent.spool.count)
        do {
            let reply = try await agent.connection.heartbeat(beat)
            agent.metrics.heartbeats.increment()
            agent.emit(.heartbeatAcknowledged(currentVersion: reply.currentVersion))
            return reply
        } catch {
            agent.logger.debug("heartbeat failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Ordinary driving labelled for `base`, replayed while adapting; computed once per version.
    private mutating func anchorSet(for base: LivePolicy.Snapshot) async -> TrainingSet {
        let episodes = agent.configuration.anchorEpisodesPerFamily
        guard episodes > 0 else { return TrainingSet(width: base.policy.architecture.inputs) }
        if let anchor, anchor.version == base.version { return anchor.set }
        do {
            let set = try await OrdinaryDriving(episodesPerFamily: episodes).anchor(policy: base.policy, library: agent.library)
            anchor = (base.version, set)
            return set
        } catch {
            agent.logger.warning("no anchor set; adapting without replay", metadata: ["error": "\(error)"])
            return TrainingSet(width: base.policy.architecture.inputs)
        }
    }
}
