import DrivingSimulator
import Foundation
import Testing
@testable import FleetSimulation

@Suite("which captures a node keeps")
struct CaptureTriageTests {
    static let content = SimulatorContent.locate(from: URL(fileURLWithPath: #filePath))!
    static let library = try! ScenarioLibrary.load(directory: content.scenarios)

    func capture(_ family: String, _ index: Int, _ kind: TriggerEvent.Kind = .collision) throws -> Capture {
        let scenario = try #require(Self.library.scenario(family: family))
        let episode = ScenarioBuilder.episode(scenario, index: index)
        return Capture(
            trigger: TriggerEvent(kind: kind, time: 3, step: 90, value: 0, detail: ""), seed: episode.seed, episode: episode,
            driver: "test", decisionSteps: 10, guardrail: nil, shadowTeacher: false, triggers: TriggerConfiguration(),
            snapshot: try ScenarioBuilder.build(scenario, episode: episode), variationRanges: VariationRanges())
    }

    @Test("an episode's triggers give one capture, the most severe")
    func oneScenePerEpisode() throws {
        let fired = [try capture("lead-brake", 0, .timeToCollision), try capture("lead-brake", 0, .hardBraking),
                     try capture("lead-brake", 0, .collision), try capture("lead-brake", 0, .guardrailOverride)]
        #expect(CaptureTriage.scene(of: fired)?.trigger.kind == .collision)
        #expect(CaptureTriage.scene(of: [try capture("ice", 0, .timeToCollision), try capture("ice", 0, .gripLimit)])?.trigger.kind == .gripLimit)
        #expect(CaptureTriage.scene(of: []) == nil)
    }

    @Test("a full spool takes a family it lacks in place of the oldest of the family it holds most, and drops one it holds")
    func rareFamilyGetsIn() throws {
        var spooled = [try capture("stalled-vehicle", 0), try capture("lead-brake", 1), try capture("stalled-vehicle", 2), try capture("lead-brake", 3)]
        CaptureTriage.spool(try capture("lead-brake", 4), into: &spooled, keep: 4)
        #expect(spooled.map(\.episode!.id) == ["stalled-vehicle-000", "lead-brake-001", "stalled-vehicle-002", "lead-brake-003"])
        CaptureTriage.spool(try capture("ice", 5), into: &spooled, keep: 4)
        #expect(spooled.map(\.episode!.family) == ["lead-brake", "stalled-vehicle", "lead-brake", "ice"], "the oldest of the two tied families made room")
        CaptureTriage.spool(try capture("fog", 6), into: &spooled, keep: 4)
        #expect(spooled.map(\.episode!.family) == ["stalled-vehicle", "lead-brake", "ice", "fog"])
        var short = [try capture("fog", 7)]
        CaptureTriage.spool(try capture("fog", 8), into: &short, keep: 4)
        #expect(short.count == 2, "below the bound every capture is kept")
    }

    @Test("a lesson takes the family the car has learned least, oldest first among equals")
    func leastLearnedFamilyFirst() {
        let spool = ["stalled-vehicle", "lead-brake", "ice", "stalled-vehicle"]
        #expect(CaptureTriage.lessonIndices(families: spool, lessonsByFamily: [:], maxCaptures: 1) == [0], "nothing learned yet: the oldest")
        #expect(CaptureTriage.lessonIndices(families: spool, lessonsByFamily: ["stalled-vehicle": 2, "lead-brake": 1], maxCaptures: 1) == [2])
        #expect(CaptureTriage.lessonIndices(families: spool, lessonsByFamily: ["stalled-vehicle": 1, "lead-brake": 1, "ice": 1], maxCaptures: 2) == [0, 1],
                "ties keep spool order")
        #expect(CaptureTriage.lessonIndices(families: spool, lessonsByFamily: ["ice": 3], maxCaptures: 9) == [0, 1, 2, 3])
        #expect(CaptureTriage.lessonIndices(families: [], lessonsByFamily: [:], maxCaptures: 1).isEmpty)
    }
}
