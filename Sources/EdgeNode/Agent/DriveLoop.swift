import CoreMetrics
import DrivingSimulator
import EdgeLearning
import Foundation
import Logging

/// The drive half of the agent: observe, decide with the live policy (and the guardrail), capture.
///
/// It never waits for the coordinator: captures go to the spool whether or
/// not the node is online, and the policy it reads is swapped under it by the
/// sync loop. It stops when its task is cancelled (graceful shutdown) —
/// between two episodes or two frames, so no capture is half written — or
/// when a feed ends.
struct DriveLoop: Sendable {
    let agent: AgentContext

    func run() async throws {
        switch agent.configuration.source {
        case .simulated:
            guard var vehicle = agent.vehicle else { return }
            try await driveSimulated(&vehicle)
        case .jsonLines(let path):
            try await driveFeed(path: path)
        }
    }

    private func driveSimulated(_ vehicle: inout SimulatedVehicle) async throws {
        var driver = SwappablePolicyDriver(live: agent.live)
        let progress = DriveProgress(dataDirectory: agent.configuration.dataDirectory)
        agent.logger.info("driving the simulated vehicle", metadata: [
            "region": "\(vehicle.region.name)", "episode": "\(vehicle.episodeIndex)",
        ])
        defer { saveProgress(progress, vehicle.episodeIndex) }
        while !Task.isCancelled {
            guard agent.live.snapshot != nil else {
                // Nothing to drive with yet: the sync loop is fetching the first model.
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let started = ContinuousClock.now
            let result = try vehicle.driveEpisode(with: &driver)
            if vehicle.episodeIndex % 10 == 0 { saveProgress(progress, vehicle.episodeIndex) }
            agent.metrics.episodes.increment()
            agent.metrics.interventions.increment(by: result.interventions)
            let stored = store(result.captures)
            agent.emit(.episodeFinished(captures: stored))
            // Keep to the configured pace: an episode of t simulated seconds takes at least t / speedup.
            let speedup = agent.configuration.speedup
            let due = speedup > 0 ? Duration.seconds(result.time / speedup) - (ContinuousClock.now - started) : .zero
            if due > .zero {
                try await Task.sleep(for: due)
            } else {
                await Task.yield()
            }
        }
    }

    private func saveProgress(_ progress: DriveProgress, _ nextEpisode: Int) {
        do { try progress.save(nextEpisode: nextEpisode) } catch {
            agent.logger.warning("the drive progress cannot be saved", metadata: ["error": "\(error)"])
        }
    }

    private func driveFeed(path: String?) async throws {
        let handle: FileHandle
        if let path, path != "-" {
            guard let file = FileHandle(forReadingAtPath: path) else {
                throw AgentError(.invalidConfiguration, "observations: cannot open \(path) for reading", context: ["field": "observations"])
            }
            handle = file
        } else {
            handle = FileHandle.standardInput
        }
        let output = try DecisionOutput(path: agent.configuration.decisionsOutput)
        let reader = LineReader(handle: handle)
        var feed = FeedDriver(
            live: agent.live, guardrail: agent.guardrail, triggers: TriggerConfiguration(), seed: agent.configuration.seed)
        var number = 0
        agent.logger.info("driving on the observation feed", metadata: ["source": "\(path ?? "stdin")"])
        while !Task.isCancelled {
            let line: [UInt8]?
            do {
                line = try await reader.nextLine()
            } catch let error as AgentError {
                number += 1
                reject(line: number, error)
                continue
            }
            guard let line else { break }
            number += 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            do {
                let frame = try ObservationFrame.parse(line, number: number)
                let (decision, captures) = try feed.process(frame, line: number)
                agent.metrics.frames.increment()
                if decision.guardrailRule != nil { agent.metrics.interventions.increment() }
                output?.write(decision)
                let stored = store(captures)
                agent.emit(.frameProcessed(captures: stored))
            } catch {
                reject(line: number, error)
            }
        }
        if !Task.isCancelled {
            agent.logger.info("the observation feed ended", metadata: [
                "frames": "\(feed.frames)", "triggersWithoutScene": "\(feed.triggersWithoutScene)",
            ])
            agent.emit(.feedEnded)
        }
    }

    private func reject(line: Int, _ error: AgentError) {
        agent.metrics.framesRejected.increment()
        agent.logger.warning("observation line rejected", metadata: ["line": "\(line)", "error": "\(error.message)"])
        agent.emit(.observationRejected(line: line, message: error.message))
    }

    /// Writes captures durably; returns how many were stored.
    private func store(_ captures: [Capture]) -> Int {
        var stored = 0
        for capture in captures {
            do {
                try agent.spool.append(capture)
                stored += 1
                agent.metrics.captures.increment()
                agent.logger.debug("captured", metadata: [
                    "trigger": "\(capture.trigger.kind)", "family": "\(capture.episode?.family ?? "capture")",
                ])
            } catch {
                agent.metrics.captureFailures.increment()
                agent.logger.error("a capture could not be stored", metadata: ["error": "\(error.message)"])
            }
        }
        if stored > 0 { agent.metrics.spoolCaptures.record(agent.spool.count) }
        return stored
    }
}

/// Where the feed's decisions go: one JSON line per frame.
final class DecisionOutput: Sendable {
    private let handle: FileHandle

    init?(path: String?) throws(AgentError) {
        guard let path else { return nil }
        if path == "-" {
            handle = FileHandle.standardOutput
            return
        }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let file = FileHandle(forWritingAtPath: path) else {
            throw AgentError(.invalidConfiguration, "decisions: cannot open \(path) for writing", context: ["field": "decisions"])
        }
        file.seekToEndOfFile()
        handle = file
    }

    func write(_ decision: FrameDecision) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard var data = try? encoder.encode(decision) else { return }
        data.append(UInt8(ascii: "\n"))
        handle.write(data)
    }
}
