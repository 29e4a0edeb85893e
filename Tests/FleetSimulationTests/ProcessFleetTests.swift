import DrivingSimulator
import FleetSimulation
import Foundation
import Synchronization
import Testing

/// `fleet-sim --processes` as a library call: a `fleet-coordinator` and two
/// `fleet-node` processes on 127.0.0.1 run one round, then are stopped.
///
/// The settings are tiny (lessons of one capture and two variations without
/// ordinary-driving replay, one gold episode of one family, a loose gate), so
/// a DEBUG build closes the round within a minute or so on two idle cores;
/// lessons and the gate are judged elsewhere, here only that the fleet runs and
/// stops. The round closes as soon as both nodes have sent; its deadline and
/// the run's patience (the default: three deadlines without a round closing)
/// are only there for a node that has nothing to send or a fleet that is stuck,
/// so they are long enough for lessons on a machine busy with other work.
@Suite("process fleet: fleet-coordinator and fleet-node processes on 127.0.0.1")
struct ProcessFleetTests {
    /// The executables `swift build` put beside the test bundle, or nil when they were not built.
    static func executables() -> FleetExecutables? {
        var directories: [URL] = []
        if let first = CommandLine.arguments.first { directories.append(URL(fileURLWithPath: first).deletingLastPathComponent()) }
        directories.append(Bundle.main.bundleURL)
        directories += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in directories.flatMap({ [$0, $0.deletingLastPathComponent()] }) {
            if let found = try? FleetExecutables(directory: directory) { return found }
        }
        return nil
    }

    @Test("a coordinator and two nodes as processes close a round; every process has exited afterwards")
    func oneRound() async throws {
        guard let executables = Self.executables() else {
            print("skipped: fleet-coordinator or fleet-node was not found beside the test bundle (run `swift build` first)"); return
        }
        let content = try #require(SimulatorContent.locate(from: URL(fileURLWithPath: #filePath)), "the Simulator/ content directory")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("process-fleet-\(getpid())-\(UUID().uuidString.prefix(8))")
        // FLEET_PROCESS_KEEP=1 keeps the certificates, data directories and logs for a look after the run.
        let keep = ProcessInfo.processInfo.environment["FLEET_PROCESS_KEEP"] == "1"
        defer {
            if keep { print("process fleet: kept \(output.path)") } else { try? FileManager.default.removeItem(at: output) }
        }
        let configuration = ProcessFleetConfiguration(
            nodes: 2, rounds: 1, regions: ["highway"], seed: 3, variations: 2, anchorEpisodes: 0, maxCaptures: 1,
            gateFalseRejectionRate: 0, interventionTolerance: 100, gateEpisodesPerFamily: 1, gateFamilies: ["cut-in"],
            roundDeadline: 300, outputDirectory: output, simulatorContent: content.root)
        let announced = Announced()
        let summary = try await ProcessFleet(configuration: configuration, executables: executables).run { announced.append($0) }

        let round = try #require(summary.rounds.first, "round 1 closed")
        print("process fleet: \(round.line)")
        #expect(summary.rounds.count == 1)
        #expect(round.round == 1)
        #expect(["promoted", "rejected"].contains(round.verdict), "a node's update made a candidate and the gate judged it: \(round)")
        #expect(round.updates >= 1 && !round.contributors.isEmpty)
        #expect(round.bytesUp.map { $0 > 0 } ?? true, "an update has bytes")
        #expect(announced.rounds == summary.rounds, "each round was announced as it closed")
        #expect(summary.regions == ["highway": ["highway-0000", "highway-0001"]])
        #expect(Set(round.candidateCollisionRate.keys) == ["cut-in"] && Set(round.collisionBefore.keys) == ["cut-in"], "the gate's family figures")
        #expect(round.candidateHash?.hasPrefix("sha256:") == true)

        // The report of a process run: the gate's figures, and a word where the nodes kept their data.
        let report = FleetReport(SimulationSummary(processFleet: summary, regionFamilies: ["highway": ["cut-in", "lead-brake"]])).html()
        #expect(report.contains("<td>cut-in</td>") && report.contains("Not recorded"))
        #expect(report.contains("class=\"\(round.verdict)\""), "the version history shows the round's verdict")
        #expect(!report.contains("nan") && !report.contains("inf"))

        #expect(summary.exits.map(\.name) == ["coordinator", "highway-0000", "highway-0001"])
        for exit in summary.exits {
            #expect(exit.isGraceful, "\(exit.name) stopped on SIGTERM with exit status 0: \(exit)")
            #expect(kill(exit.pid, 0) == -1 && errno == ESRCH, "\(exit.name) (pid \(exit.pid)) no longer exists")
        }
        for file in ["ca.pem", "server.pem", "model-signing.pub", "highway-0000.pem", "coordinator.log", "highway-0001.log"] {
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("processes/\(file)").path), "processes/\(file)")
        }
    }

    @Test("a missing executable is named, with the command that builds it")
    func missingExecutable() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-executables-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        do {
            _ = try FleetExecutables(directory: empty)
            Issue.record("an empty directory holds no fleet-coordinator")
        } catch {
            #expect(error.code == .missingExecutable)
            #expect(error.message.contains("fleet-coordinator") && error.message.contains("swift build --product fleet-coordinator"))
            #expect(error.message.contains(empty.path))
        }
    }
}

/// The rounds `run` announced, in order.
private final class Announced: Sendable {
    private let list = Mutex<[ProcessRoundSummary]>([])
    func append(_ round: ProcessRoundSummary) { list.withLock { $0.append(round) } }
    var rounds: [ProcessRoundSummary] { list.withLock { $0 } }
}
