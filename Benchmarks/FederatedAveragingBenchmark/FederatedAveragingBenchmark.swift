import Aggregation
import ArgumentParser
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork

/// Our federated averaging beside Flower's simulation on the same workload:
/// C clients, R rounds, S local Adam steps of batch B per client per round,
/// the default policy (85,656 parameters). Wall time of the R rounds (median
/// of the repetitions) and bytes sent per round, up and down, on both sides,
/// with the ratios.
///
///     swift run -c release fedavg-benchmark --peer /tmp/flower-venv/bin/python
@main
struct FederatedAveragingBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedavg-benchmark",
        abstract: "Benchmark our federated averaging against Flower's simulation (wall time, bytes per round).")

    @Option(help: "Clients, all of which train every round.") var clients = 24
    @Option(help: "Rounds.") var rounds = 10
    @Option(help: "Local Adam steps per client per round.") var localSteps = 20
    @Option(help: "Rows per local step.") var batch = 256
    @Option(help: "Repetitions of the R rounds (the median is reported).") var repetitions = 3
    @Option(help: "Clients trained at once (the peer gets as many CPUs, one per client).") var workers = 2
    @Option(help: "Top-k share of each changed tensor a delta keeps.") var fraction = 0.2
    @Option(help: "Top-k share of each changed tensor the server's downlink delta keeps (int8, error feedback).")
    var downlinkFraction = StepCompressor.Configuration().fraction
    @Flag(help: "Send the whole checkpoint every round (the step applied exactly), as before downlink deltas.")
    var fullDownloads = false
    @Flag(help: "Clients start with nothing and download the whole checkpoint in round 1 (not provisioned with the seed).")
    var unprovisioned = false
    @Option(help: "The Python that runs the Flower peer (needs flwr[simulation] and torch).") var peer = "python3"
    @Option(help: "The Flower peer script.") var peerScript = Self.defaultPeerScript
    @Flag(help: "Do not run the Flower peer.") var noPeer = false

    static var defaultPeerScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("flower_peer.py").path
    }

    var workload: Workload {
        Workload(
            clients: clients, rounds: rounds, localSteps: localSteps, batch: batch, workers: workers, fraction: fraction,
            downlink: fullDownloads ? nil : StepCompressor.Configuration(fraction: downlinkFraction),
            provisioned: !unprovisioned)
    }

    func run() async throws {
        guard let content = SimulatorContent.locate() else {
            throw ValidationError("run from the repository (Simulator/ not found)")
        }
        // One BLAS thread per client, `workers` clients at once: the peer's one CPU per client.
        BLASThreads.set(1)
        let base = try BasePolicy.load(from: content)
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let parameters = ModelLayout(policy: base).parameterCount
        print("Federated averaging: \(clients) clients × \(rounds) rounds × \(localSteps) local steps of batch \(batch)")
        print("model \(base.architecture.canonicalString) (\(parameters) parameters); \(workers) clients at a time")
        print("downloads: " + (unprovisioned
              ? "the whole checkpoint in round 1 (clients start with nothing)"
              : "in round 1 a 304 with the signed manifest (clients are provisioned with the seed and check its hash)")
              + (fullDownloads
                 ? ", then the whole checkpoint every round"
                 : ", then the delta from the version each client holds "
                   + "(top \(format(downlinkFraction * 100, 1)) % of each changed tensor, int8, error feedback on the server)"))

        let clock = ContinuousClock()
        let setupStart = clock.now
        let fleet = try await makeClients(workload, base: base, library: library)
        print("teacher-labelled \(workload.rowsPerClient) rows for each client in \(format(seconds(clock.now - setupStart), 1)) s (not timed)")

        let averaging = FederatedAveraging(workload: workload, clients: fleet, initial: base)
        var times: [Double] = []
        var figures: [RoundFigures] = []
        for repetition in 1...max(1, repetitions) {
            let start = clock.now
            figures = try await averaging.run()
            times.append(seconds(clock.now - start))
            print("repetition \(repetition): \(format(times.last!, 2)) s (loss \(format(figures.first!.loss, 3)) → \(format(figures.last!.loss, 3)))")
        }
        let ours = Side(
            seconds: median(times), runs: times,
            bytesUp: mean(figures.map { Double($0.bytesUp) }), bytesDown: mean(figures.map { Double($0.bytesDown) }))

        var flower: PeerResult?
        var note: String?
        if noPeer {
            note = "peer disabled"
        } else {
            print("running the Flower peer (\(peer) \(peerScript)) …")
            switch runPeer() {
            case .success(let result): flower = result
            case .failure(let failure): note = failure.message
            }
        }
        report(ours: ours, figures: figures, parameters: parameters, flower: flower, note: note)
    }

    /// One side's figures: median wall time of the R rounds and mean bytes per round.
    struct Side: Encodable {
        var seconds: Double
        var runs: [Double]
        var bytesUp: Double
        var bytesDown: Double
        var bytesTotal: Double { bytesUp + bytesDown }
    }

    /// What `flower_peer.py` prints.
    struct PeerResult: Decodable {
        var flwr: String
        var torch: String
        var ray: String
        var parameters: Int
        var seconds_median: Double
        var seconds: [Double]
        var simulation_seconds: Double
        var bytes_up_per_round: Double
        var bytes_down_per_round: Double
        var payload_up_per_round: Double
        var payload_down_per_round: Double
    }

    struct PeerFailure: Error {
        var message: String
    }

    /// Runs the peer with the same workload; its log goes to a file, its last stdout line is the JSON.
    func runPeer() -> Result<PeerResult, PeerFailure> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = peer.split(separator: " ").map(String.init) + [
            peerScript, "--clients", "\(clients)", "--rounds", "\(rounds)", "--local-steps", "\(localSteps)",
            "--batch", "\(batch)", "--repetitions", "\(repetitions)", "--cpus", "\(workers)",
        ]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fedavg-flower-peer.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = Pipe()
        process.standardOutput = output
        do {
            // Flower and Ray log plenty; a file cannot fill up and stall the peer as a pipe would.
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
        } catch {
            return .failure(PeerFailure(message: "could not start \(peer) (\(error))"))
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") })
        else {
            let errors = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if errors.contains("No module named 'flwr'") || errors.contains("No module named 'torch'") {
                return .failure(PeerFailure(message: "flwr or torch missing: pip install 'flwr[simulation]' torch, then pass --peer <that python>"))
            }
            return .failure(PeerFailure(message: "exit \(process.terminationStatus); see \(log.path)"))
        }
        do {
            return .success(try JSONDecoder().decode(PeerResult.self, from: Data(line.utf8)))
        } catch {
            return .failure(PeerFailure(message: "unreadable peer output: \(line)"))
        }
    }

    func report(ours: Side, figures: [RoundFigures], parameters: Int, flower: PeerResult?, note: String?) {
        let peerSide = flower.map {
            Side(seconds: $0.seconds_median, runs: $0.seconds, bytesUp: $0.bytes_up_per_round, bytesDown: $0.bytes_down_per_round)
        }
        func ratio(_ peer: Double?, _ own: Double, _ word: String) -> String {
            peer.map { format($0 / own, 1) + "× " + word } ?? ""
        }
        var rows: [[String]] = [
            ["wall time of \(rounds) rounds (median of \(repetitions))", format(ours.seconds, 2) + " s",
             peerSide.map { format($0.seconds, 2) + " s" } ?? "n/a", ratio(peerSide?.seconds, ours.seconds, "faster")],
            ["bytes up per round", bytes(ours.bytesUp), peerSide.map { bytes($0.bytesUp) } ?? "n/a",
             ratio(peerSide?.bytesUp, ours.bytesUp, "fewer")],
            ["bytes down per round", bytes(ours.bytesDown), peerSide.map { bytes($0.bytesDown) } ?? "n/a",
             ratio(peerSide?.bytesDown, ours.bytesDown, "fewer")],
            ["bytes per round, total", bytes(ours.bytesTotal), peerSide.map { bytes($0.bytesTotal) } ?? "n/a",
             ratio(peerSide?.bytesTotal, ours.bytesTotal, "fewer")],
        ]
        // Once every client holds a version, each round's download is the delta from it.
        let deltaRounds = figures.filter { $0.download == .delta }
        let steadyDown = mean(deltaRounds.map { Double($0.bytesDown) }), steadyUp = mean(deltaRounds.map { Double($0.bytesUp) })
        if !deltaRounds.isEmpty {
            let first = figures.firstIndex { $0.download == .delta }! + 1
            rows += [
                ["bytes down per round, rounds \(first)–\(rounds) (deltas)", bytes(steadyDown), peerSide.map { bytes($0.bytesDown) } ?? "n/a",
                 ratio(peerSide?.bytesDown, steadyDown, "fewer")],
                ["bytes per round, total, rounds \(first)–\(rounds)", bytes(steadyUp + steadyDown),
                 peerSide.map { bytes($0.bytesTotal) } ?? "n/a", ratio(peerSide?.bytesTotal, steadyUp + steadyDown, "fewer")],
            ]
        }
        print()
        printTable(["", "ours", "Flower", "ratio"], rows)
        let clientShare = figures.reduce(0) { $0 + $1.clientSeconds }, serverShare = figures.reduce(0) { $0 + $1.serverSeconds }
        if !deltaRounds.isEmpty {
            let checkpointRounds = figures.filter { $0.download == .checkpoint }
            let confirmedRounds = figures.filter { $0.download == .confirmed }.count
            print("\nours, downloads: \(confirmedRounds) round(s) of 304s for provisioned weights (no body), "
                  + "\(checkpointRounds.count) round(s) of whole checkpoints"
                  + (checkpointRounds.isEmpty ? "" : " (\(bytes(mean(checkpointRounds.map { Double($0.bytesDown) }) / Double(clients))) per client)")
                  + ", \(deltaRounds.count) rounds of deltas (\(bytes(steadyDown / Double(clients))) per client); "
                  + "the per-round means above count them all")
        }
        print("\nours, last repetition: clients \(format(clientShare, 2)) s, server \(format(serverShare, 2)) s; "
              + "per client and round \(bytes(ours.bytesUp / Double(clients))) up, \(bytes(ours.bytesDown / Double(clients))) down")
        let clientRounds = Double(clients * rounds)
        let phases = ClientPhase.allCases.map { phase in
            "\(phase.label) \(format(figures.reduce(0) { $0 + $1.phaseSeconds[phase.rawValue] } / clientRounds * 1e3, 1)) ms"
        }
        print("ours, per client and round: " + phases.joined(separator: ", "))
        if let flower {
            print("Flower \(flwrLine(flower)); repetitions \(flower.seconds.map { format($0, 2) }.joined(separator: ", ")) s; "
                  + "whole simulation (Ray start-up, warm-up, repetitions) \(format(flower.simulation_seconds, 1)) s; "
                  + "ndarray payload \(bytes(flower.payload_up_per_round)) up, \(bytes(flower.payload_down_per_round)) down per round")
        }
        if let note { print("Flower peer not run: \(note)") }

        var json: [String: Any] = [
            "workload": [
                "clients": clients, "rounds": rounds, "local_steps": localSteps, "batch": batch, "parameters": parameters,
                "workers": workers, "fraction": fraction,
                "downlink_fraction": fullDownloads ? 1.0 : downlinkFraction, "downlink": fullDownloads ? "checkpoint" : "delta",
                "provisioned": !unprovisioned,
            ],
            "ours": [
                "seconds_median": ours.seconds, "seconds": ours.runs, "bytes_up_per_round": ours.bytesUp,
                "bytes_down_per_round": ours.bytesDown, "bytes_per_round": ours.bytesTotal,
                "bytes_down_per_delta_round": deltaRounds.isEmpty ? 0 : steadyDown,
                "bytes_up_by_round": figures.map(\.bytesUp), "bytes_down_by_round": figures.map(\.bytesDown),
                "download_by_round": figures.map(\.download.rawValue),
                "loss_by_round": figures.map(\.loss),
                "client_ms_per_round": Dictionary(uniqueKeysWithValues: ClientPhase.allCases.map { phase in
                    ("\(phase)", figures.reduce(0) { $0 + $1.phaseSeconds[phase.rawValue] } / Double(clients * rounds) * 1e3)
                }),
            ],
        ]
        if let flower, let peerSide {
            json["flower"] = [
                "flwr": flower.flwr, "torch": flower.torch, "ray": flower.ray, "parameters": flower.parameters,
                "seconds_median": flower.seconds_median, "seconds": flower.seconds,
                "simulation_seconds": flower.simulation_seconds,
                "bytes_up_per_round": flower.bytes_up_per_round, "bytes_down_per_round": flower.bytes_down_per_round,
                "bytes_per_round": peerSide.bytesTotal,
                "payload_up_per_round": flower.payload_up_per_round, "payload_down_per_round": flower.payload_down_per_round,
            ]
            json["ratios"] = [
                "wall_time": peerSide.seconds / ours.seconds, "bytes_up": peerSide.bytesUp / ours.bytesUp,
                "bytes_down": peerSide.bytesDown / ours.bytesDown, "bytes_total": peerSide.bytesTotal / ours.bytesTotal,
            ]
        }
        if let data = try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    func flwrLine(_ flower: PeerResult) -> String { "flwr \(flower.flwr), torch \(flower.torch), ray \(flower.ray)" }
}

func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }

func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

/// Bytes with a thousands separator, as the tables in BENCHMARKS.md write them.
func bytes(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var grouped = ""
    for (offset, character) in digits.reversed().enumerated() {
        if offset > 0, offset % 3 == 0 { grouped.append(",") }
        grouped.append(character)
    }
    return String(grouped.reversed()) + " B"
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
