import ArgumentParser
import Dispatch
import DrivingSimulator
import FleetSimulation
import Foundation
import Synchronization

/// `fleet-sim --processes`: the fleet as real `fleet-coordinator` and `fleet-node` processes.
extension SimulateFleet {
    func runProcesses() async throws {
        if asynchronous { throw ValidationError("--async runs in process only; the process fleet runs synchronous rounds") }
        if poisoned > 0 { throw ValidationError("--poisoned runs in process only; fleet-node sends honest updates") }
        if seedModel != nil { throw ValidationError("--seed-model runs in process only; fleet-coordinator starts from Simulator/models/base-policy.safetensors") }
        if transport != "tls" { throw ValidationError("--transport \(transport) runs in process only; processes talk mutual TLS on 127.0.0.1") }
        let outputDirectory = URL(fileURLWithPath: output)
        var configuration = ProcessFleetConfiguration(
            nodes: nodes, rounds: rounds, regions: regions.map { $0.split(separator: ",").map(String.init) }, seed: seed,
            participation: participation, variations: variations, anchorEpisodes: anchorEpisodes, maxCaptures: maxCaptures,
            aggregator: aggregator, serverLearningRate: serverLearningRate, gateFalseRejectionRate: gateFalseRejectionRate,
            interventionTolerance: interventionTolerance, gateEpisodesPerFamily: gateEpisodes == 0 ? nil : gateEpisodes,
            outputDirectory: outputDirectory, simulatorContent: try content.locate().root)
        configuration.downlinkFraction = downlinkFraction
        configuration.boundsDrift = boundDrift
        let executables = try FleetExecutables.besideRunningExecutable()
        let fleet: ProcessFleet
        do { fleet = try ProcessFleet(configuration: configuration, executables: executables) } catch { throw ValidationError(error.message) }

        if !quiet && !json {
            emit("fleet-sim: \(nodes) fleet-node processes and a fleet-coordinator, \(rounds) rounds, seed \(seed); logs in \(configuration.processesDirectory.path)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let (quiet, json) = (self.quiet, self.json)
        let summary: ProcessFleetSummary
        do {
            summary = try await Self.cancellingOnInterrupt {
                try await fleet.run { round in
                    if json, let line = try? encoder.encode(round) { emit(String(decoding: line, as: UTF8.self)) }
                    else if !quiet { emit(round.line) }
                }
            }
        } catch is CancellationError {
            emit("fleet-sim: interrupted; every process stopped (logs in \(configuration.processesDirectory.path))")
            throw ExitCode(130)
        }

        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let lines = try summary.rounds.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try Data(lines.utf8).write(to: outputDirectory.appendingPathComponent("rounds.jsonl"), options: .atomic)
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(summary).write(to: outputDirectory.appendingPathComponent("summary.json"), options: .atomic)
        let simulatorContent = try content.locate()
        let library = try ScenarioLibrary.load(directory: simulatorContent.scenarios)
        let regionFamilies = Dictionary(
            try Region.loadAll(directory: simulatorContent.regions, library: library).map { ($0.name, $0.families.keys.sorted()) },
            uniquingKeysWith: { first, _ in first }
        ).filter { summary.regions[$0.key] != nil }
        let report = FleetReport(SimulationSummary(processFleet: summary, regionFamilies: regionFamilies))
        try Data(report.html().utf8).write(to: outputDirectory.appendingPathComponent("report.html"), options: .atomic)
        let published = summary.rounds.filter { $0.verdict == "promoted" }.count
        let graceful = summary.exits.filter(\.isGraceful).count
        print("fleet-sim: \(summary.rounds.count) rounds (\(published) published) by \(nodes) node processes; version \(summary.finalVersion); "
            + "\(graceful) of \(summary.exits.count) processes stopped gracefully; \(String(format: "%.0f", summary.seconds)) s; wrote \(outputDirectory.path)")
    }

    /// Runs `body`, cancelling it on SIGINT or SIGTERM, so that a process fleet is stopped
    /// (its processes sent SIGTERM, then SIGKILL) rather than left behind when fleet-sim is.
    /// After a signal it throws `CancellationError` whatever `body` threw: processes that got
    /// the terminal's SIGINT too may have ended first and made the run fail on its own.
    static func cancellingOnInterrupt<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let interrupted = InterruptFlag()
        let work = Task { try await body() }
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                interrupted.raise()
                work.cancel()
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            for number in [SIGINT, SIGTERM] { signal(number, SIG_DFL) }
        }
        do {
            return try await withTaskCancellationHandler { try await work.value } onCancel: { work.cancel() }
        } catch {
            if interrupted.isRaised { throw CancellationError() }
            throw error
        }
    }
}

/// Whether SIGINT or SIGTERM arrived.
private final class InterruptFlag: Sendable {
    private let raised = Mutex(false)
    func raise() { raised.withLock { $0 = true } }
    var isRaised: Bool { raised.withLock { $0 } }
}
