import ArgumentParser
import PolicyNetwork

#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Training throughput and batch-1 inference latency of the mixture-of-experts
/// policy, beside the same model in PyTorch, at 1 and 2 BLAS threads.
@main
struct PolicyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy-benchmark",
        abstract: "Benchmark the MoE policy (training steps/s, batch-1 latency) against PyTorch.")

    @Option(help: "Observation features.") var inputs = 64
    @Option(help: "Experts.") var experts = 8
    @Option(help: "Hidden width of each expert.") var hidden = 128
    @Option(help: "Experts per sample.") var topK = 2
    @Option(help: "Discrete actions.") var actions = 6
    @Option(help: "Expert activation: relu, gelu or tanh.") var activation = "gelu"
    @Option(help: "Training batch size.") var batch = 256
    @Option(help: "Timed training steps per trial.") var steps = 200
    @Option(help: "Trials (the median is reported).") var trials = 7
    @Option(help: "Timed batch-1 inference calls.") var latencyCalls = 50_000
    @Option(help: "Thread counts to measure.") var threads: [Int] = [1, 2]
    @Option(help: "Train only the first N experts, router frozen, as a node adapts (default: every parameter).")
    var trainableExperts: Int?
    @Option(help: "The PyTorch peer script.") var peerScript = Self.defaultPeerScript
    @Flag(help: "Do not run the PyTorch peer.") var noPeer = false

    static var defaultPeerScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("policy_peer.py").path
    }

    struct Figures {
        var stepsPerSecond: Double
        var latencyMicroseconds: Double
    }

    struct PeerFigures: Decodable {
        var torch: String
        var train_steps_per_second: Double
        var latency_median_us: Double
    }

    func run() throws {
        guard let activationKind = Activation(rawValue: activation) else {
            throw ValidationError("--activation must be relu, gelu or tanh")
        }
        let architecture = try PolicyArchitecture(
            inputs: inputs, experts: experts, hidden: hidden, topK: topK, actions: actions, activation: activationKind)
        print("Policy benchmark: \(architecture.canonicalString), batch \(batch), Adam, cross-entropy + 0.01·aux")
        if let trainableExperts { print("training experts 0..<\(trainableExperts) only, router frozen (ours; the peer trains everything)") }
        print("median of \(trials) trials × \(steps) steps; latency: median of \(latencyCalls) single-observation calls\n")

        var rows: [(threads: Int, ours: Figures, peer: PeerFigures?, peerNote: String?)] = []
        for threadCount in threads {
            BLASThreads.set(threadCount)
            let ours = try measureOurs(architecture)
            var peer: PeerFigures?
            var note: String?
            if noPeer {
                note = "peer disabled"
            } else {
                switch runPeer(threads: threadCount) {
                case .success(let figures): peer = figures
                case .failure(let reason): note = reason.message
                }
            }
            rows.append((threadCount, ours, peer, note))
        }

        let header = ["threads", "metric", "Swift", "PyTorch", "ratio"]
        var table: [[String]] = []
        for row in rows {
            let peerRate = row.peer.map { format($0.train_steps_per_second, 1) } ?? "n/a"
            let peerLatency = row.peer.map { format($0.latency_median_us, 2) } ?? "n/a"
            table.append([
                "\(row.threads)", "training steps/s", format(row.ours.stepsPerSecond, 1), peerRate,
                row.peer.map { format(row.ours.stepsPerSecond / $0.train_steps_per_second, 2) + "× faster" } ?? "",
            ])
            table.append([
                "\(row.threads)", "batch-1 latency µs", format(row.ours.latencyMicroseconds, 2), peerLatency,
                row.peer.map { format($0.latency_median_us / row.ours.latencyMicroseconds, 1) + "× lower" } ?? "",
            ])
        }
        printTable(header, table)
        if let version = rows.compactMap({ $0.peer?.torch }).first { print("\nPyTorch \(version)") }
        for row in rows { if let note = row.peerNote { print("PyTorch peer at \(row.threads) thread(s) not run: \(note)") } }
    }

    func measureOurs(_ architecture: PolicyArchitecture) throws -> Figures {
        var policy = try MoEPolicy(architecture: architecture, seed: 1)
        if let trainableExperts {
            try policy.trainOnly(experts: Set(0..<min(trainableExperts, architecture.experts)), router: false)
        }
        let trainer = MoETrainer(optimizer: Adam(learningRate: 1e-3), auxiliaryLossWeight: 0.01)
        var generator = SeededGenerator(seed: 2)
        var batches: [(Tensor, [Int])] = []
        for _ in 0..<8 {
            var x = Tensor(shape: [batch, architecture.inputs])
            for i in 0..<x.count { x[i] = generator.nextGaussian() }
            let labels = (0..<batch).map { _ in Int(generator.next() % UInt64(architecture.actions)) }
            batches.append((x, labels))
        }
        for i in 0..<20 { try trainer.step(&policy, inputs: batches[i % 8].0, targets: .actions(batches[i % 8].1)) }
        var rates: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<trials {
            let start = clock.now
            for i in 0..<steps { try trainer.step(&policy, inputs: batches[i % 8].0, targets: .actions(batches[i % 8].1)) }
            rates.append(Double(steps) / seconds(clock.now - start))
        }

        let workspace = InferenceWorkspace()
        let observations: [[Float]] = (0..<64).map { _ in (0..<architecture.inputs).map { _ in generator.nextGaussian() } }
        var checksum = 0
        for i in 0..<2_000 { checksum &+= try policy.infer(observations[i % 64], workspace: workspace).action }
        var latencies = [Double](repeating: 0, count: latencyCalls)
        for i in 0..<latencyCalls {
            let start = clock.now
            checksum &+= try policy.infer(observations[i % 64], workspace: workspace).action
            latencies[i] = seconds(clock.now - start) * 1e6
        }
        if checksum == Int.min { print("") }  // keeps the calls observable
        return Figures(stepsPerSecond: median(rates), latencyMicroseconds: median(latencies))
    }

    struct PeerFailure: Error {
        var message: String
    }

    func runPeer(threads: Int) -> Result<PeerFigures, PeerFailure> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", peerScript, "--threads", "\(threads)", "--inputs", "\(inputs)", "--experts", "\(experts)",
            "--hidden", "\(hidden)", "--top-k", "\(topK)", "--actions", "\(actions)", "--activation", activation,
            "--batch", "\(batch)", "--steps", "\(max(20, steps / 2))", "--trials", "\(trials)",
            "--latency-calls", "\(min(latencyCalls, 10_000))",
        ]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return .failure(PeerFailure(message: "could not start python3 (\(error))"))
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            if errorText.contains("No module named 'torch'") {
                return .failure(PeerFailure(message: "PyTorch is not installed (pip install torch, or scripts/bootstrap bench)"))
            }
            let lastLine = errorText.split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
            return .failure(PeerFailure(message: lastLine))
        }
        do {
            return .success(try JSONDecoder().decode(PeerFigures.self, from: data))
        } catch {
            return .failure(PeerFailure(message: "unreadable peer output: \(String(decoding: data, as: UTF8.self))"))
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

func printTable(_ header: [String], _ rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
    }
    print(line(header))
    print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
    for row in rows { print(line(row)) }
}
