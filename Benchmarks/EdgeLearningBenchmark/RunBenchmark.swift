import ArgumentParser
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork

/// The issue's table: per family, held-out failure rates before and after one
/// lesson, the gold-suite score before and after, delta size and codec speed.
struct RunBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the edge-learning benchmark.")

    @Option(help: "Comma-separated families (default: all).") var families: String?
    @Option(help: "Variations per capture used for training (K).") var variations = 1_000
    @Option(help: "Held-out variations per family (indices from 2^30 on, never trained on).") var heldOut = 200
    @Option(help: "Top-k share of each touched tensor sent in the compressed delta.") var fraction = 0.2
    @Option(help: "Difficulty of the episodes the capture is searched in.") var captureDifficulty = 0.8
    @Option(help: "Seconds between a capture's snapshot and its trigger.") var captureLead = 5.0
    @Option(help: "Anchor episodes per family (ordinary driving replayed while adapting).") var anchorEpisodes = 30
    @Option(help: "Validation episodes per family (ordinary driving each checkpoint is checked against; 0: none).") var validationEpisodes = 20
    @Option(help: "Difficulty of the anchor and validation episodes ('scenario': each scenario's own, as its gold episodes).") var anchorDifficulty = "0.5"
    @Option(help: "Anchor labels: policy (the base's own actions) or teacher.") var anchorLabels = "policy"
    @Option(help: "Share of the anchor episodes' decisions the teacher takes (0: the base drives alone).") var anchorBeta = 0.5
    @Option(help: "Codec timing repetitions (median reported).") var repeats = 21
    @Flag(help: "Train the router too.") var trainRouter = false
    @Flag(inversion: .prefixedNo, help: "Keep the change sparse while training (top-k projection each epoch).") var sparseTraining = true
    @Option(help: "Draw states where the base disagrees with the teacher this many times (default: the learner's).") var correctionWeight: Int?
    @Option(help: "Epochs per DAgger iteration (default: the learner's).") var epochs: Int?
    @Option(help: "Adam learning rate (default: the learner's).") var learningRate: Float?
    @Option(help: "Experts trained at most (default: the learner's).") var maxExperts: Int?
    @Option(help: "Widen from one expert while the lesson removes less than this share of failures ('none': train --max-experts at once; default: the learner's).") var widenUntil: String?
    @Option(help: "Share of anchor states with the smallest logit margin replayed more often (default: the learner's).") var closeCallShare: Double?
    @Option(help: "How many times as often those close calls are replayed (default: the learner's).") var closeCallWeight: Int?
    @Option(help: "Share of each batch replayed from the anchor (default: the learner's).") var replay: Double?
    @Option(help: "Pull of the change towards the base after every training step, a share in 0 ..< 1 (default: the learner's).") var pull: Float?
    @Option(help: "Weight the pull by the base's Fisher information on the anchor: 'importance' or 'uniform' (default: the learner's).") var pullWeighting: String?
    @Option(help: "DAgger iterations (default: the learner's).") var iterations: Int?
    @Option(help: "Grow an expert when the loss after adapting exceeds this (default: the learner's).") var growthThreshold: Float?
    @Option(help: "Step sizes tried when no checkpoint passes the validation check, comma-separated ('none': keep the least regressing checkpoint; default: the learner's).") var shrinkFactors: String?
    @Flag(help: "Skip the Python peer.") var skipPeer = false
    @Option(help: "Write the results as JSON here.") var json: String?

    func run() async throws {
        guard let content = SimulatorContent.locate() else { throw ValidationError("Run from the repository (Simulator/ not found).") }
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let suite = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
        let base = try BasePolicy.load(from: content)
        let names = families.map { $0.split(separator: ",").map(String.init) } ?? library.scenarios.map(\.family)
        let clock = ContinuousClock()

        print("base policy: \(BasePolicy.url(in: content).path) (\(base.parameterCount) parameters)")
        let goldBase = try await PolicyEvaluation.evaluate(base, suite: suite, library: library, name: "base")
        print("gold suite, base: \(format(goldBase.overall.collisionFreePercent)) % collision-free")
        let anchorStart = clock.now
        guard anchorDifficulty == "scenario" || Double(anchorDifficulty) != nil else {
            throw ValidationError("--anchor-difficulty takes a number in [0, 1] or 'scenario', got '\(anchorDifficulty)'.")
        }
        let anchor = try await OrdinaryDriving(episodesPerFamily: anchorEpisodes, difficulty: Double(anchorDifficulty), firstIndex: 10_000)
            .anchor(policy: base, library: library, beta: anchorBeta, labels: anchorLabels == "teacher" ? .teacher : .policy)
        print("anchor: \(anchor.count) \(anchorLabels)-labelled states of ordinary driving (\(seconds(clock.now - anchorStart)) s)")

        let validation = validationEpisodes > 0
            ? try OrdinaryDriving(episodesPerFamily: validationEpisodes, difficulty: Double(anchorDifficulty), firstIndex: 20_000).items(library: library) : []
        var configuration = EdgeLearner.Configuration()
        configuration.synthesis.count = variations
        configuration.adaptation.trainRouter = trainRouter
        configuration.sparseAdaptation = sparseTraining
        if let correctionWeight { configuration.adaptation.correctionWeight = correctionWeight }
        if let epochs { configuration.adaptation.fitting.epochs = epochs }
        if let learningRate { configuration.adaptation.fitting.learningRate = learningRate }
        if let maxExperts { configuration.adaptation.maxExperts = maxExperts }
        if let widenUntil {
            guard widenUntil == "none" || Double(widenUntil) != nil else { throw ValidationError("--widen-until takes a share in (0, 1] or 'none', got '\(widenUntil)'.") }
            configuration.widenUntil = Double(widenUntil)
        }
        if let closeCallShare { configuration.adaptation.closeCallShare = closeCallShare }
        if let closeCallWeight { configuration.adaptation.closeCallWeight = closeCallWeight }
        if let replay { configuration.adaptation.fitting.replayRatio = replay }
        if let pull { configuration.adaptation.fitting.pullTowardsReference = pull }
        if let pullWeighting {
            guard pullWeighting == "importance" || pullWeighting == "uniform" else {
                throw ValidationError("--pull-weighting takes 'importance' or 'uniform', got '\(pullWeighting)'.")
            }
            configuration.adaptation.fitting.pullByImportance = pullWeighting == "importance"
        }
        if let iterations { configuration.labelling.iterations = iterations }
        if let growthThreshold { configuration.growth.lossThreshold = growthThreshold }
        if let shrinkFactors {
            configuration.shortestStepKeeping = shrinkFactors == "none" ? nil : configuration.shortestStepKeeping
            configuration.shrinkFactors = shrinkFactors == "none" ? [] : shrinkFactors.split(separator: ",").compactMap { Float($0) }
        }
        configuration.compression = DeltaCompressor.Configuration(fraction: fraction)
        let learner = EdgeLearner(configuration: configuration)
        let denseModelBytes = base.parameterCount * 4

        var rows: [Row] = []
        var lastDelta: (PolicyDelta, [DenseChange])?
        for family in names {
            guard let scenario = library.scenario(family: family) else { throw ValidationError("unknown family '\(family)'") }
            guard let capture = try findCapture(base, scenario) else {
                print("\(family): the base policy never crashed in 40 episodes; nothing to learn")
                continue
            }
            let heldOutItems = HeldOutVariations.items(of: capture, count: heldOut)
            let before = try await PolicyEvaluation.evaluate(base, items: heldOutItems, name: "base")
            let teacher = await Evaluator.evaluate(items: heldOutItems, driverName: "teacher") { TeacherDriver() }
            let start = clock.now
            let adaptation = try await learner.adapt(captures: [capture], base: base, anchor: anchor, validation: validation) {
                print("  \(family): \($0)")
            }
            let adaptSeconds = seconds(clock.now - start)
            let header = DeltaHeader(nodeID: "bench-node", baseVersion: 1)
            var compressor = DeltaCompressor(configuration: configuration.compression)
            let delta = try learner.delta(for: adaptation, base: base, header: header, compressor: &compressor)
            var exact = DeltaCompressor(configuration: .uncompressed)
            let uncompressedDelta = try learner.delta(for: adaptation, base: base, header: header, compressor: &exact)
            let wire = try DeltaCodec.encodeCompressed(delta)
            let decoded = try DeltaCodec.decodeCompressed(wire)
            let applied = try DeltaApplier.apply(decoded, to: base)
            let appliedExact = try DeltaApplier.apply(try DeltaCodec.decodeCompressed(DeltaCodec.encodeCompressed(uncompressedDelta)), to: base)

            let afterExact = try await PolicyEvaluation.evaluate(appliedExact, items: heldOutItems, name: "uncompressed")
            let afterCompressed = try await PolicyEvaluation.evaluate(applied, items: heldOutItems, name: "compressed")
            let goldAfter = try await PolicyEvaluation.evaluate(applied, suite: suite, library: library, name: "compressed")
            let goldAfterExact = try await PolicyEvaluation.evaluate(appliedExact, suite: suite, library: library, name: "uncompressed")
            let row = Row(
                family: family, trigger: capture.trigger.kind.rawValue, experts: adaptation.trainedExperts, grown: adaptation.grownExpert,
                held: adaptation.heldNearBase,
                samples: adaptation.samples,
                teacherFailure: teacher.overall.collisionRate,
                trainBefore: adaptation.before.failureRate, trainAfter: adaptation.after.failureRate,
                heldOutBefore: before.overall.collisionRate, heldOutAfterExact: afterExact.overall.collisionRate,
                heldOutAfterCompressed: afterCompressed.overall.collisionRate,
                goldBefore: goldBase.overall.collisionFreePercent, goldAfterExact: goldAfterExact.overall.collisionFreePercent,
                goldAfterCompressed: goldAfter.overall.collisionFreePercent,
                deltaBytes: wire.count, uncompressedDeltaBytes: try DeltaCodec.encodeCompressed(uncompressedDelta).count,
                denseModelBytes: denseModelBytes, adaptSeconds: adaptSeconds)
            rows.append(row)
            print(row.line)
            let comparison = SuiteComparison(before: goldBase, after: goldAfter)
            print("  gold per family (compressed): " + comparison.rows.map { "\($0.family) \(format($0.change))" }.joined(separator: ", "))
            lastDelta = (delta, try DeltaBuilder.changes(base: base, local: adaptation.local))
        }
        print("")
        print(Row.header)
        for row in rows { print(row.markdown) }
        let summary = Summary(rows: rows)
        print(summary.text)

        var codec: CodecFigures?
        if let (delta, changes) = lastDelta {
            codec = try measureCodec(delta: delta, changes: changes, repeats: repeats, fraction: fraction)
            print(codec!.text)
        }
        if let json {
            let report: [String: Any] = [
                "rows": rows.map(\.dictionary), "summary": summary.dictionary, "codec": codec?.dictionary ?? [:],
                "variations": variations, "held_out": heldOut, "fraction": fraction, "train_router": trainRouter,
                "anchor_samples": anchor.count,
            ]
            try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
                .write(to: URL(fileURLWithPath: json))
        }
    }

    /// The first crash of the base policy in hard episodes of the family (seeds apart from gold and training).
    func findCapture(_ base: MoEPolicy, _ scenario: Scenario) throws -> Capture? {
        var fallback: Capture?
        for index in 0..<40 {
            let episode = ScenarioBuilder.episode(scenario, index: index, baseSeed: 0xCA97_0000_0001, difficulty: captureDifficulty)
            let world = try ScenarioBuilder.build(scenario, episode: episode)
            var options = EpisodeOptions(
                duration: scenario.duration, decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1))
            options.triggers = TriggerConfiguration()
            options.episode = episode
            options.captureLead = captureLead
            var driver = try PolicyDriver(policy: base, name: "base")
            let result = EpisodeRunner.run(world, driver: &driver, options: options)
            if let crash = result.captures.first(where: { $0.trigger.kind == .collision || $0.trigger.kind == .offRoad }) {
                return crash
            }
            if fallback == nil { fallback = result.captures.first { $0.trigger.kind == .timeToCollision } }
        }
        return fallback
    }

    func measureCodec(delta: PolicyDelta, changes: [DenseChange], repeats: Int, fraction: Double) throws -> CodecFigures {
        let clock = ContinuousClock()
        let denseBytes = changes.reduce(0) { $0 + $1.values.count * 4 }
        func median(_ body: () throws -> Void) rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<repeats {
                let start = clock.now
                try body()
                times.append(seconds(clock.now - start))
            }
            return times.sorted()[times.count / 2]
        }
        // Ours: compress (top-k + int8 + error feedback) and pack + zstd; decode: unzstd + strict decode + expand.
        var wire: [UInt8] = []
        let encodeTime = try median {
            var compressor = DeltaCompressor(configuration: DeltaCompressor.Configuration(fraction: fraction))
            let tensors = changes.map { compressor.compress(name: $0.name, shape: $0.shape, values: $0.values, role: $0.role) }
            var copy = delta
            copy.tensors = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            wire = try DeltaCodec.encodeCompressed(copy)
        }
        var checksum: Float = 0
        let decodeTime = try median {
            let decoded = try DeltaCodec.decodeCompressed(wire)
            for tensor in decoded.tensors { checksum += tensor.denseValues().first ?? 0 }
        }
        // In-process peer: the same change as dense float32 safetensors + zstd level 3 (how a PyTorch stack ships a state dict).
        var set = ParameterSet()
        for change in changes { try set.append(change.name, try Tensor(shape: change.shape, scalars: change.values)) }
        var peerWire: [UInt8] = []
        let peerEncodeTime = try median { peerWire = try Zstd.compress(Safetensors.encode(set)) }
        let peerDecodeTime = try median {
            let contents = try Safetensors.decode(try Zstd.decompress(peerWire, limit: 64 << 20))
            checksum += contents.parameters.scalarCount > 0 ? 1 : 0
        }
        var python: [String: Double]?
        if !skipPeer {
            python = try runPythonPeer(set: set, repeats: repeats)
        }
        return CodecFigures(
            denseBytes: denseBytes, wireBytes: wire.count, encodeSeconds: encodeTime, decodeSeconds: decodeTime,
            peerWireBytes: peerWire.count, peerEncodeSeconds: peerEncodeTime, peerDecodeSeconds: peerDecodeTime, python: python)
    }

    /// Runs `delta_peer.py` (numpy + np.save, Flower's ndarray wire form, then the zstd CLI) on the same tensors.
    func runPythonPeer(set: ParameterSet, repeats: Int) throws -> [String: Double]? {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("delta_peer.py")
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("edge-learning-delta-\(getpid()).safetensors")
        try Safetensors.write(set, to: input.path)
        defer { try? FileManager.default.removeItem(at: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, input.path, "--repeats", "\(repeats)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch {
            print("python peer skipped: \(error)")
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            print("python peer skipped: it exited with \(process.terminationStatus) (needs numpy and safetensors: scripts/bootstrap test)")
            return nil
        }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func format(_ value: Double, _ decimals: Int = 1) -> String { String(format: "%.\(decimals)f", value) }

/// One family's line of the table.
struct Row {
    var family: String
    var trigger: String
    var experts: [Int]
    var grown: Int?
    /// Whether the kept lesson was trained with the pull towards the base.
    var held: Bool
    var samples: Int
    var teacherFailure: Double
    var trainBefore, trainAfter: Double
    var heldOutBefore, heldOutAfterExact, heldOutAfterCompressed: Double
    var goldBefore, goldAfterExact, goldAfterCompressed: Double
    var deltaBytes, uncompressedDeltaBytes, denseModelBytes: Int
    var adaptSeconds: Double

    /// Share of the uncompressed delta's held-out improvement the compressed delta keeps.
    var retention: Double? {
        let full = heldOutBefore - heldOutAfterExact
        return full > 0 ? (heldOutBefore - heldOutAfterCompressed) / full : nil
    }
    var halved: Bool { heldOutAfterCompressed <= heldOutBefore / 2 }

    static let header = """
        | family | capture trigger | experts trained | teacher failure % (floor) | held-out failure % before | after (uncompressed delta) | after (compressed delta) | fell by half? | gold % before | gold % after (compressed) | gold change (points) | delta bytes (compressed) | dense model / delta | kept of the improvement | adapt s |
        | --- | --- | --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
        """

    var markdown: String {
        let expertText = experts.map(String.init).joined(separator: ", ") + (grown.map { " + new \($0)" } ?? "") + (held ? " (held)" : "")
        return "| \(family) | \(trigger) | \(expertText) | \(format(100 * teacherFailure)) | \(format(100 * heldOutBefore)) | \(format(100 * heldOutAfterExact)) | "
            + "\(format(100 * heldOutAfterCompressed)) | \(halved ? "yes" : "no") | \(format(goldBefore)) | \(format(goldAfterCompressed)) | "
            + "\(format(goldAfterCompressed - goldBefore, 1)) | \(deltaBytes) | \(format(Double(denseModelBytes) / Double(deltaBytes)))× | "
            + "\(retention.map { format(100 * $0, 0) + " %" } ?? "—") | \(format(adaptSeconds, 0)) |"
    }

    var line: String {
        "\(family): teacher \(format(100 * teacherFailure))%, held-out failure \(format(100 * heldOutBefore))% → \(format(100 * heldOutAfterExact))% (uncompressed) / "
            + "\(format(100 * heldOutAfterCompressed))% (compressed); training variations \(format(100 * trainBefore))% → \(format(100 * trainAfter))%; "
            + "gold \(format(goldBefore)) → \(format(goldAfterCompressed)) (uncompressed \(format(goldAfterExact))); delta \(deltaBytes) B; "
            + "experts \(experts)\(grown.map { " grown \($0)" } ?? "")\(held ? " held near the base" : ""); \(samples) samples; \(format(adaptSeconds)) s"
    }

    var dictionary: [String: Any] {
        [
            "family": family, "trigger": trigger, "experts": experts, "grown": grown as Any, "held_near_base": held, "samples": samples,
            "teacher_failure": teacherFailure, "train_failure_before": trainBefore, "train_failure_after": trainAfter,
            "heldout_failure_before": heldOutBefore, "heldout_failure_after_uncompressed": heldOutAfterExact,
            "heldout_failure_after_compressed": heldOutAfterCompressed, "gold_before": goldBefore,
            "gold_after_uncompressed": goldAfterExact, "gold_after_compressed": goldAfterCompressed,
            "delta_bytes": deltaBytes, "uncompressed_delta_bytes": uncompressedDeltaBytes, "dense_model_bytes": denseModelBytes,
            "retention": retention as Any, "adapt_seconds": adaptSeconds,
        ]
    }
}

struct Summary {
    var rows: [Row]
    var halvedCount: Int { rows.filter(\.halved).count }
    var worstGoldChange: Double { rows.map { $0.goldAfterCompressed - $0.goldBefore }.min() ?? 0 }
    var medianRatio: Double {
        let ratios = rows.map { Double($0.denseModelBytes) / Double($0.deltaBytes) }.sorted()
        return ratios.isEmpty ? 0 : ratios[ratios.count / 2]
    }
    var pooledRetention: Double? {
        let full = rows.reduce(0) { $0 + $1.heldOutBefore - $1.heldOutAfterExact }
        let kept = rows.reduce(0) { $0 + $1.heldOutBefore - $1.heldOutAfterCompressed }
        return full > 0 ? kept / full : nil
    }
    var text: String {
        "families whose held-out failures fell by at least half: \(halvedCount) of \(rows.count); worst gold change \(format(worstGoldChange)) points; "
            + "median dense-model/delta size ratio \(format(medianRatio))×; compressed delta keeps \(pooledRetention.map { format(100 * $0, 0) } ?? "—") % of the uncompressed delta's improvement (pooled over families)"
    }
    var dictionary: [String: Any] {
        ["halved": halvedCount, "families": rows.count, "worst_gold_change": worstGoldChange, "median_size_ratio": medianRatio,
         "pooled_retention": pooledRetention as Any]
    }
}

struct CodecFigures {
    var denseBytes, wireBytes: Int
    var encodeSeconds, decodeSeconds: Double
    var peerWireBytes: Int
    var peerEncodeSeconds, peerDecodeSeconds: Double
    var python: [String: Double]?

    func mbps(_ seconds: Double) -> Double { Double(denseBytes) / 1e6 / seconds }

    var text: String {
        var lines = [
            "codec, one delta (\(denseBytes) bytes of touched float32 tensors), MB of dense change per second, medians:",
            "  ours (top-k + int8 + error feedback, container, zstd): \(wireBytes) B, encode \(format(mbps(encodeSeconds))) MB/s, decode \(format(mbps(decodeSeconds))) MB/s",
            "  peer in-process (dense float32 safetensors + zstd 3): \(peerWireBytes) B, encode \(format(mbps(peerEncodeSeconds))) MB/s, decode \(format(mbps(peerDecodeSeconds))) MB/s",
            "  size ratio peer/ours: \(format(Double(peerWireBytes) / Double(wireBytes)))×",
        ]
        if let python {
            lines.append("  python peer (numpy np.save per tensor, Flower's ndarray form; size after zstd -3, timing of np.save/np.load only): \(Int(python["bytes"] ?? 0)) B, encode \(format(Double(denseBytes) / 1e6 / (python["encode_seconds"] ?? 1))) MB/s, decode \(format(Double(denseBytes) / 1e6 / (python["decode_seconds"] ?? 1))) MB/s")
        }
        return lines.joined(separator: "\n")
    }

    var dictionary: [String: Any] {
        ["dense_bytes": denseBytes, "wire_bytes": wireBytes, "encode_mbps": mbps(encodeSeconds), "decode_mbps": mbps(decodeSeconds),
         "peer_wire_bytes": peerWireBytes, "peer_encode_mbps": mbps(peerEncodeSeconds), "peer_decode_mbps": mbps(peerDecodeSeconds),
         "python": python ?? [:]]
    }
}
