import Foundation
import Aggregation
import Coordinator
import DrivingSimulator
import EdgeLearning
import EdgeNode
import FleetEvaluation
import FleetWire
import Logging
import PolicyNetwork
import SecureTransport

/// A whole fleet on one machine: one coordinator and N edge nodes in one
/// process, round after round, showing the shared model learn.
///
/// Each round, in lock step so a seed gives the same run: every node drives
/// a few episodes in its region and keeps what its triggers capture; the
/// coordinator opens a round for the live nodes; every node with captures
/// learns from them (``EdgeLearner``) and uploads its delta, in node order;
/// the simulation moves the coordinator's clock past the round's deadline so
/// the round closes, is aggregated and gated on the gold suite; every node
/// pulls the version that is current, checks its signature and drives with
/// it from then on.
public struct FleetSimulation: Sendable {
    public let configuration: FleetSimulationConfiguration

    public init(configuration: FleetSimulationConfiguration) throws(SimulationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Seconds a round stays open on the simulation's clock (it is moved past them).
    static let roundDeadline = 600.0

    /// Runs every round; `progress` gets each round's summary as it ends.
    public func run(progress: @escaping @Sendable (RoundSummary) -> Void = { _ in }) async throws -> SimulationSummary {
        let started = ContinuousClock.now
        let settings = configuration
        let content = SimulatorContent(root: settings.simulatorContent)
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let allRegions = try Region.loadAll(directory: content.regions, library: library)
        let regions = try settings.regions.map { names in
            try names.map { name in
                guard let region = allRegions.first(where: { $0.name == name }) else {
                    throw SimulationError("no region '\(name)' (known: \(allRegions.map(\.name).sorted().joined(separator: ", ")))")
                }
                return region
            }
        } ?? allRegions.sorted { $0.name < $1.name }
        let guardrail = try Guardrail.load(contentsOf: content.guardrailRules)
        let base = try settings.seedModel.map { try BasePolicy.load(at: $0.path) } ?? BasePolicy.load(from: content)

        let output = settings.outputDirectory
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let coordinatorData = output.appendingPathComponent("coordinator")
        try? FileManager.default.removeItem(at: coordinatorData)

        // The coordinator, on the simulation's clock.
        let clock = SimulationClock(start: 1_800_000_000)
        let signingKey = try PrivateKey(generating: .ed25519)
        // Nodes stay alive for the whole run (they never go quiet here); a
        // round invites a sampled share of them and closes when the clock
        // passes its deadline.
        let rounds = RoundConfiguration(
            mode: settings.asynchronous ? .asynchronous(bufferSize: max(1, settings.nodes / 2)) : .synchronous,
            participationFraction: settings.participation, minParticipants: 1, maxParticipants: settings.nodes,
            quorumFraction: 1, minUpdates: 1, deadline: Self.roundDeadline,
            heartbeatTimeout: 2 * Self.roundDeadline * Double(settings.rounds + 1), seed: settings.seed)
        var logger = Logger(label: "fleet.sim.coordinator")
        logger.logLevel = .warning
        let service = try await CoordinatorService(
            configuration: CoordinatorConfiguration(
                dataDirectory: coordinatorData, rounds: rounds, aggregation: settings.aggregation,
                serverOptimizer: settings.serverOptimizer, downlink: settings.downlink, gate: settings.gate,
                gateSuite: .init(episodesPerFamily: settings.gateEpisodesPerFamily)),
            initialModel: { base }, signingKey: signingKey,
            gate: try RegressionGate.make(
                content: content, configuration: settings.gate,
                selection: .init(episodesPerFamily: settings.gateEpisodesPerFamily)),
            clock: clock, logger: logger)
        let verifier = ModelVerifier(signingKey: signingKey.publicKey)

        // The nodes, spread over the regions in turn.
        let placement = (0..<settings.nodes).map { index in
            let region = regions[index % regions.count]
            return (id: String(format: "%@-%04d", region.name, index), region: region)
        }
        let poisonedEvery = settings.poisonedShare > 0 ? max(1, Int((1 / settings.poisonedShare).rounded())) : 0
        return try await FleetTransport.withConnections(settings.transport, service: service, nodes: placement.map(\.id)) { connections in
            var nodes: [SimulatedFleetNode] = []
            for (index, (id, region)) in placement.enumerated() {
                nodes.append(SimulatedFleetNode(
                    id: id, region: region.name, poisoned: poisonedEvery > 0 && index % poisonedEvery == 0,
                    connection: connections[index],
                    vehicle: SimulatedVehicle(region: region, library: library, guardrail: guardrail, seed: DrivingSimulator.SeededGenerator.mix(settings.seed, UInt64(index)),
                        captureLead: settings.captureLead),
                    policy: base, version: 0,
                    compressor: DeltaCompressor(configuration: .init(fraction: settings.compression))))
            }
            for index in nodes.indices { _ = try await Self.pull(&nodes[index], verifier: verifier) }
            var baselines = settings.baselines
                ? Baselines(nodes: nodes, regions: regions, library: library, guardrail: guardrail, settings: settings, base: base)
                : nil
            var summary = try await Self.rounds(
                &nodes, baselines: &baselines, settings: settings, service: service, clock: clock, verifier: verifier, base: base,
                library: library, guardrail: guardrail, progress: progress)
            summary.gold = try await Self.compare(
                seed: base, federated: nodes.first?.policy ?? base, baselines: baselines, library: library, settings: settings,
                gate: RegressionGate.make(content: content, configuration: settings.gate, selection: .init(episodesPerFamily: settings.comparisonEpisodesPerFamily)))
            summary.regions = Dictionary(grouping: placement, by: { $0.region.name }).mapValues { $0.map(\.id) }
            summary.regionFamilies = Dictionary(regions.map { ($0.name, $0.families.keys.sorted()) }, uniquingKeysWith: { first, _ in first })
            summary.seconds = Self.seconds(since: started)
            return summary
        }
    }

    /// Every round, in lock step.
    static func rounds(
        _ nodes: inout [SimulatedFleetNode], baselines: inout Baselines?, settings: FleetSimulationConfiguration, service: CoordinatorService,
        clock: SimulationClock, verifier: ModelVerifier, base: MoEPolicy, library: ScenarioLibrary, guardrail: Guardrail,
        progress: @escaping @Sendable (RoundSummary) -> Void
    ) async throws -> SimulationSummary {
        var summaries: [RoundSummary] = []
        var goldBefore: Double?
        var collisionBefore: [String: Double] = [:]
        var latest: (score: Double?, rates: [String: Double]) = (nil, [:])
        // Ordinary driving labelled for the version the nodes run: every node
        // would label the same episodes the same way, so it is done once per version.
        var anchor: (version: UInt64, set: TrainingSet)?
        // The nodes' own regression check, likewise made once per version.
        var check: (version: UInt64, check: LessonCheck?)?
        var expertUse: [String: [Int]] = [:]
        for number in 1...settings.rounds {
            let roundStarted = ContinuousClock.now
            var summary = RoundSummary(
                round: number, captures: [:], capturesByRegion: [:], crashes: 0, updatesSent: 0, updatesAccepted: 0, updatesRejected: 0,
                bytesUp: 0, denseBytesUp: 0, bytesDown: 0, verdict: "none", version: 0, goldScore: nil,
                collisionRate: [:], reasons: [], candidateHash: nil, seconds: 0)

            // 1. Drive; 2. everyone is heard from; the round opens.
            for index in nodes.indices {
                let drive = try nodes[index].drive(episodes: settings.episodesPerRound, keep: max(4, 2 * settings.maxCaptures))
                summary.crashes += drive.crashes
                summary.captures.merge(drive.capturesByFamily, uniquingKeysWith: +)
                summary.capturesByRegion[nodes[index].region, default: [:]].merge(drive.capturesByFamily, uniquingKeysWith: +)
                expertUse[nodes[index].region, default: []].add(drive.expertUse)
                baselines?.centralized.record(drive.captured)
            }
            try baselines?.drive(settings: settings)
            for node in nodes {
                _ = try await node.connection.heartbeat(NodeHeartbeat(
                    state: .idle, modelVersion: node.version, region: node.region, capturesPending: node.captures.count))
            }
            await service.tick()

            // 3. Nodes with captures learn (two at a time, one per core), then upload in node order.
            var tasks: [Int: TaskAssignment] = [:]
            for (index, node) in nodes.enumerated() where !node.captures.isEmpty {
                if let task = try await node.connection.pollTask(waitSeconds: 0) { tasks[index] = task }
            }
            if let version = nodes.first?.version, anchor?.version != version, let policy = nodes.first?.policy {
                anchor = (version, try await Self.anchor(for: policy, library: library, settings: settings))
            }
            if let version = nodes.first?.version, check?.version != version, let policy = nodes.first?.policy {
                check = (version, try await Self.lessonCheck(for: policy, library: library, guardrail: guardrail, settings: settings))
            }
            let lessons = try await Self.learn(
                &nodes, tasks: tasks, anchor: anchor?.set ?? TrainingSet(width: base.architecture.inputs), check: check?.check,
                library: library, settings: settings, round: number)
            var bodies: [Int: [UInt8]] = [:]
            for (index, lesson) in lessons {
                switch lesson {
                case .update(let body): bodies[index] = body
                case .withheld: summary.lessonsWithheld += 1
                }
            }
            let denseBytes = base.parameterCount * MemoryLayout<Float>.size
            for index in bodies.keys.sorted() {
                guard let body = bodies[index], let task = tasks[index] else { continue }
                summary.updatesSent += 1
                summary.bytesUp += body.count
                summary.denseBytesUp += denseBytes
                do {
                    _ = try await nodes[index].connection.uploadUpdate(round: task.round, compressedDelta: body)
                    summary.updatesAccepted += 1
                    nodes[index].lessonDelivered(maxCaptures: settings.maxCaptures)
                } catch {
                    summary.updatesRejected += 1
                }
            }

            try await baselines?.learn(settings: settings, library: library, guardrail: guardrail, round: number)

            // 4. The round closes at its deadline, is aggregated and gated.
            clock.advance(by: Self.roundDeadline + 1)
            await service.tick()
            let versions = try service.versions()
            // A round every lesson of which was withheld (or none sent) built no candidate: the newest
            // version then belongs to an earlier round.
            if summary.updatesAccepted > 0, let candidate = versions.first(where: { $0.manifest.round.map { Int($0) == Self.roundNumber(number, in: versions) } ?? false }),
               let gate = candidate.manifest.gate {
                summary.verdict = gate.verdict
                summary.reasons = gate.reasons
                summary.updatesLeftOut = gate.leftOut?.count ?? 0
                summary.candidateHash = candidate.manifest.contentHash
                // Every round's candidate, promoted or not, for a closer look (`fleet-sim evaluate --model`).
                let candidates = settings.outputDirectory.appendingPathComponent("candidates")
                try FileManager.default.createDirectory(at: candidates, withIntermediateDirectories: true)
                try Data(try service.registry.checkpoint(of: candidate))
                    .write(to: candidates.appendingPathComponent("round-\(number).safetensors"), options: .atomic)
                summary.candidateCollisionRate = Dictionary(uniqueKeysWithValues: gate.families.map { ($0.family, $0.candidateCollisionRate) })
                if goldBefore == nil {
                    goldBefore = gate.currentScore
                    collisionBefore = Dictionary(uniqueKeysWithValues: gate.families.map { ($0.family, $0.currentCollisionRate) })
                }
                latest = gate.verdict == "promoted"
                    ? (gate.candidateScore, Dictionary(uniqueKeysWithValues: gate.families.map { ($0.family, $0.candidateCollisionRate) }))
                    : (gate.currentScore, Dictionary(uniqueKeysWithValues: gate.families.map { ($0.family, $0.currentCollisionRate) }))
            } else if summary.updatesAccepted > 0 {
                summary.verdict = "abandoned"
            }

            // 5. Every node pulls what is current and checks it.
            for index in nodes.indices { summary.bytesDown += try await Self.pull(&nodes[index], verifier: verifier) }
            summary.version = await service.currentVersion
            summary.goldScore = latest.score
            summary.collisionRate = latest.rates
            summary.seconds = Self.seconds(since: roundStarted)
            summaries.append(summary)
            progress(summary)
        }

        let final = await service.currentModel()
        let finalVersion = try service.version(final.version)
        try Self.write(finalVersion, checkpoint: try service.registry.checkpoint(of: finalVersion), to: settings.outputDirectory)
        return SimulationSummary(
            nodes: settings.nodes, rounds: summaries, regions: [:], seed: settings.seed,
            transport: settings.transport.rawValue, goldBefore: goldBefore, goldAfter: latest.score ?? goldBefore,
            collisionBefore: collisionBefore, collisionAfter: latest.rates.isEmpty ? collisionBefore : latest.rates,
            expertUseByRegion: expertUse, regionFamilies: [:], finalModelHash: finalVersion.manifest.contentHash, finalVersion: final.version, seconds: 0)
    }

    /// The seed model, the fleet's final one and the baselines' on the whole gold suite.
    static func compare(
        seed: MoEPolicy, federated: MoEPolicy, baselines: Baselines?, library: ScenarioLibrary, settings: FleetSimulationConfiguration,
        gate: RegressionGate
    ) async throws -> GoldComparison {
        let seedResult = GoldResult(try await gate.evaluate(seed, name: "seed"))
        let federatedResult = GoldResult(try await gate.evaluate(federated, name: "federated"))
        var comparison = GoldComparison(seed: seedResult, federated: federatedResult, centralized: nil, localOnly: [:])
        try await baselines?.compare(into: &comparison, architecture: seed.architecture, library: library, settings: settings, gate: gate)
        return comparison
    }

    /// The final model beside the report: its safetensors checkpoint, the
    /// signed manifest's canonical bytes and the signature over them.
    static func write(_ version: PublishedVersion, checkpoint: [UInt8], to directory: URL) throws {
        try Data(checkpoint).write(to: directory.appendingPathComponent("final-model.safetensors"), options: .atomic)
        try Data(version.manifestBytes).write(to: directory.appendingPathComponent("final-model.manifest.json"), options: .atomic)
        if let signature = version.signature {
            try Data(signature).write(to: directory.appendingPathComponent("final-model.manifest.sig"), options: .atomic)
        }
    }

    /// The coordinator's number for the simulation's round `number`: the
    /// newest round any version names (rounds abandoned for lack of updates
    /// make the two differ).
    static func roundNumber(_ number: Int, in versions: [PublishedVersion]) -> Int {
        Int(versions.compactMap(\.manifest.round).max() ?? UInt64(number))
    }

    /// Fetches the current version if it is new to the node — the change from the version it holds
    /// when the coordinator has it, else the checkpoint — verifies and installs it; returns the bytes
    /// of every body received (a refused delta and the checkpoint fetched instead both count).
    static func pull(_ node: inout SimulatedFleetNode, verifier: ModelVerifier) async throws -> Int {
        // A node still on the seed it was provisioned with names its weights' hash instead of a version.
        let provisioned = node.version == 0 ? node.policy.checkpoint() : nil
        let answer = try await node.connection.fetchModel(
            provisioned.map { .unlessHolding(contentHash: ModelVerifier.contentHash(of: $0), version: nil) }
                ?? .current(ifNoneMatch: node.version))
        var received = answer.bodyBytes
        let verified: VerifiedModel
        switch answer {
        case .notModified:
            return 0
        case .model(let download):
            verified = try verifier.verify(download)
        case .confirmed(let confirmation):
            verified = try verifier.verify(confirmation, checkpoint: provisioned ?? node.policy.checkpoint())
        case .delta(let delta):
            do {
                verified = try verifier.verify(delta, parentVersion: node.version, parent: node.policy)
            } catch {
                let fallback = try await node.connection.fetchModel(.version(delta.version))
                received += fallback.bodyBytes
                guard case .model(let download) = fallback else {
                    throw ConnectionError(.invalidResponse, "GET /v1/models/\(delta.version) did not answer with a checkpoint")
                }
                verified = try verifier.verify(download)
            }
        }
        node.policy = verified.policy
        node.version = verified.version
        return received
    }

    /// Every tasked node's lesson, two nodes at a time (one per core), each seeded by node and round.
    static func learn(
        _ nodes: inout [SimulatedFleetNode], tasks: [Int: TaskAssignment], anchor: TrainingSet, check: LessonCheck?,
        library: ScenarioLibrary, settings: FleetSimulationConfiguration, round: Int
    ) async throws -> [Int: SimulatedFleetNode.Lesson] {
        var lessons: [Int: SimulatedFleetNode.Lesson] = [:]
        let order = tasks.keys.sorted()
        var next = 0
        try await withThrowingTaskGroup(of: (Int, SimulatedFleetNode, SimulatedFleetNode.Lesson?).self) { group in
            func start(_ index: Int) {
                var node = nodes[index]
                let task = tasks[index]!
                let learner = EdgeLearner(configuration: settings.lessonLearner(node: index, round: round), scenarios: library)
                group.addTask {
                    let lesson = try await node.lesson(
                        for: task, learner: learner, anchor: anchor, check: check, maxCaptures: settings.maxCaptures)
                    return (index, node, lesson)
                }
            }
            while next < min(2, order.count) {
                start(order[next])
                next += 1
            }
            while let (index, node, lesson) = try await group.next() {
                nodes[index] = node
                lessons[index] = lesson
                if next < order.count {
                    start(order[next])
                    next += 1
                }
            }
        }
        return lessons
    }

    /// The anchor set for `policy`: ordinary driving (at the configured difficulty), the states it visits labelled with its own actions or the teacher's.
    static func anchor(for policy: MoEPolicy, library: ScenarioLibrary, settings: FleetSimulationConfiguration) async throws -> TrainingSet {
        guard settings.anchorEpisodes > 0 else { return TrainingSet(width: policy.architecture.inputs) }
        return try await OrdinaryDriving(episodesPerFamily: settings.anchorEpisodes, difficulty: settings.anchorDifficulty).anchor(policy: policy, library: library, labels: settings.anchorLabels)
    }

    /// The nodes' own regression check for `policy` (nil when the run checks no lessons).
    static func lessonCheck(
        for policy: MoEPolicy, library: ScenarioLibrary, guardrail: Guardrail, settings: FleetSimulationConfiguration
    ) async throws -> LessonCheck? {
        guard settings.lessonCheckEpisodes > 0 else { return nil }
        return try await LessonCheck(
            policy: policy, episodesPerFamily: settings.lessonCheckEpisodes, library: library, guardrail: guardrail,
            gate: settings.gate, minimumGain: settings.lessonCheckMinimumGain)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

extension Array where Element == Int {
    /// Adds `other` element-wise, growing to its length.
    mutating func add(_ other: [Int]) {
        if count < other.count { self += repeatElement(0, count: other.count - count) }
        for (index, value) in other.enumerated() { self[index] += value }
    }
}
