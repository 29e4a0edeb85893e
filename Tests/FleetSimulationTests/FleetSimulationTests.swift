import Coordinator
import DrivingSimulator
import Foundation
import Testing
import FleetSimulation

@Suite("fleet simulation")
struct FleetSimulationTests {
    static func configuration(seed: UInt64, output: URL, transport: FleetSimulationConfiguration.Transport = .inMemory) throws -> FleetSimulationConfiguration {
        let content = try #require(SimulatorContent.locate(from: URL(fileURLWithPath: #filePath)))
        return FleetSimulationConfiguration(
            nodes: 3, rounds: 1, regions: ["alpine", "coastal", "urban"], seed: seed, transport: transport,
            episodesPerRound: 2, variations: 3, anchorEpisodes: 0, gateEpisodesPerFamily: 1, comparisonEpisodesPerFamily: 1,
            outputDirectory: output, simulatorContent: content.root)
    }

    @Test("a small fleet runs a round over mutual TLS and in memory, and the same seed gives the same model and the same round")
    func deterministic() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-sim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await FleetSimulation(configuration: try Self.configuration(
            seed: 7, output: directory.appendingPathComponent("tls"), transport: .tls)).run()
        let second = try await FleetSimulation(configuration: try Self.configuration(
            seed: 7, output: directory.appendingPathComponent("memory"), transport: .inMemory)).run()
        for file in ["final-model.safetensors", "final-model.manifest.json", "final-model.manifest.sig"] {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("tls/\(file)").path), "\(file) written")
        }
        #expect(first.rounds.count == 1)
        let round = try #require(first.rounds.first)
        #expect(round.updatesSent > 0, "some node captured an edge case and sent a lesson")
        #expect(round.updatesAccepted == round.updatesSent)
        #expect(round.bytesUp < round.denseBytesUp / 10, "a lesson is far smaller than the dense model")
        #expect(["promoted", "rejected"].contains(round.verdict))
        #expect(first.goldBefore != nil)
        #expect(round.candidateHash != nil, "the round's candidate was built and gated")
        #expect(first.finalModelHash == second.finalModelHash)
        var (a, b) = (round, try #require(second.rounds.first))
        (a.seconds, b.seconds) = (0, 0)
        #expect(a == b)
        #expect(Set(first.regions.keys) == ["alpine", "coastal", "urban"])

        // The report draws every chart from the run, and names the families each region never met.
        let report = FleetReport(first).html()
        #expect(report.components(separatedBy: "<svg").count - 1 == 5, "gold, per family, bytes, captures, expert use")
        #expect(report.contains("Families a region never met") && report.contains("<td>ice</td>"), "coastal and urban never meet ice")
        #expect(!report.contains("nan") && !report.contains("inf"))
    }

    @Test("baselines: a local-only twin per region, the centralized baseline on every capture, the upper bound, all on the gold suite")
    func baselines() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-sim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try Self.configuration(seed: 7, output: directory)
        configuration.baselines = true
        configuration.upperBoundEpisodesPerFamily = 1
        configuration.centralizedOrdinaryEpisodesPerFamily = 1
        let summary = try await FleetSimulation(configuration: configuration).run()
        let gold = try #require(summary.gold)
        let upperBound = try #require(gold.upperBound, "the upper bound was trained and driven through the gold suite")
        #expect(upperBound.collisionRate.keys.sorted() == gold.seed.collisionRate.keys.sorted())
        #expect((0...100).contains(upperBound.score))
        #expect(Set(gold.localOnly.keys) == ["alpine", "coastal", "urban"], "one twin per region")
        #expect(gold.centralized != nil)
        let captured = summary.rounds.reduce(0) { $0 + $1.captures.values.reduce(0, +) }
        #expect(captured > 0 && gold.centralizedCaptures == captured, "the centralized baseline learned from every capture the fleet took")
        #expect(gold.centralizedEpisodes == gold.seed.collisionRate.count + captured * configuration.variations, "one ordinary episode a family and every capture's variations")
        #expect(gold.seed.collisionRate.keys.sorted() == gold.federated.collisionRate.keys.sorted())
        let report = FleetReport(summary).html()
        #expect(report.contains("<th class=\"n\">centralized (every capture)</th>") && report.contains("local-only where unmet"))
        #expect(report.contains("captures the fleet took"))
        #expect(report.contains("<th class=\"n\">upper bound</th>"))
        #expect(report.contains("its local-only twin"), "the transfer table shows what the region would have alone")
    }

    @Test("when every node's check fails its lesson, nothing is sent and the round reports no candidate")
    func withheldLessons() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-sim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try Self.configuration(seed: 7, output: directory)
        configuration.lessonCheckEpisodes = 1
        configuration.lessonCheckMinimumGain = 100  // no lesson can pass: it would have to gain more than 100 points
        let summary = try await FleetSimulation(configuration: configuration).run()
        let round = try #require(summary.rounds.first)
        #expect(round.lessonsWithheld > 0, "the nodes with captures learned and held their lessons back")
        #expect(round.updatesSent == 0)
        #expect(round.verdict == "none")
        #expect(round.candidateHash == nil)
        #expect(round.version == 1, "the seed still serves")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("candidates").path))
    }

    @Test("bad settings are refused, naming the setting")
    func validation() throws {
        var configuration = try Self.configuration(seed: 1, output: URL(fileURLWithPath: "/tmp/unused"))
        configuration.compression = 0
        do {
            _ = try FleetSimulation(configuration: configuration)
            Issue.record("a compression of 0 must be refused")
        } catch {
            #expect(error.message.contains("compression"))
        }
    }
}
