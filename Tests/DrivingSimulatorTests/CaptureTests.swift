import Foundation
import Testing
@testable import DrivingSimulator

@Suite("Triggers and captures")
struct CaptureTests {
    /// Runs the baseline with triggers (and optionally the guardrail) and returns the captures.
    func captures(_ family: String, index: Int, guardrail: Bool = false) throws -> [Capture] {
        let (episode, world) = try Fixtures.world(family, index: index)
        var options = Fixtures.options(Fixtures.scenario(family), episode: episode)
        options.triggers = TriggerConfiguration()
        if guardrail { options.guardrail = try Guardrail.load(contentsOf: Fixtures.content.guardrailRules) }
        var driver = BaselineDriver()
        return EpisodeRunner.run(world, driver: &driver, options: options).captures
    }

    @Test("a capture replays to the same trigger at the same step", arguments: ["cut-in", "pedestrian", "ice"])
    func replayReproducesTrigger(family: String) throws {
        let all = try captures(family, index: 0)
        #expect(!all.isEmpty, "the baseline should meet an edge case in \(family)")
        for capture in all {
            let decoded = try JSONDecoder().decode(Capture.self, from: try capture.encoded())
            var driver = BaselineDriver()
            let replay = decoded.replay(driver: &driver)
            let again = replay.triggers.first { $0.kind == capture.trigger.kind }
            #expect(again?.step == capture.trigger.step, "\(capture.trigger.kind) should fire again at step \(capture.trigger.step)")
            #expect(again?.time == capture.trigger.time)
            #expect(decoded.snapshot.time < capture.trigger.time)
        }
    }

    @Test("a collision in the cut-in produces collision and TTC captures")
    func cutInTriggers() throws {
        let kinds = Set(try captures("cut-in", index: 0).map(\.trigger.kind))
        #expect(kinds.contains(.collision))
        #expect(kinds.contains(.timeToCollision))
    }

    @Test("guardrail overrides are captured and replay with the guardrail")
    func guardrailCapture() throws {
        var found: Capture?
        for index in 0..<6 where found == nil {
            found = try captures("on-ramp-merge", index: index, guardrail: true).first { $0.trigger.kind == .guardrailOverride }
        }
        let capture = try #require(found)
        var driver = BaselineDriver()
        let replay = capture.replay(driver: &driver)
        #expect(replay.triggers.first { $0.kind == .guardrailOverride }?.step == capture.trigger.step)
    }

    @Test("on ice, using most of the grip fires gripLimit before the car leaves the road; the teacher never gets there")
    func gripLimitOnIce() throws {
        let (episode, world) = try Fixtures.world("ice", index: 0)
        var options = Fixtures.options(Fixtures.scenario("ice"), episode: episode)
        options.triggers = TriggerConfiguration()
        var holding = ConstantDriver(.idle)
        let result = EpisodeRunner.run(world, driver: &holding, options: options)
        let grip = try #require(result.triggers.first { $0.kind == .gripLimit }, "holding speed into an icy bend uses up the grip")
        #expect(grip.value > TriggerConfiguration.gripShare)
        if let offRoad = result.triggers.first(where: { $0.kind == .offRoad }) { #expect(grip.step < offRoad.step) }

        var teacher = TeacherDriver()
        options.triggers = TriggerConfiguration(enabled: [.gripLimit])
        let careful = EpisodeRunner.run(world, driver: &teacher, options: options)
        #expect(careful.triggers.isEmpty, "slowing before the bend keeps a margin of grip: \(careful.triggers)")
    }

    @Test("shadow mode fires when the driver keeps disagreeing with the teacher")
    func shadowDisagreement() throws {
        let (episode, world) = try Fixtures.world("fog", index: 0)
        var options = Fixtures.options(Fixtures.scenario("fog"), episode: episode)
        options.duration = 6
        options.triggers = TriggerConfiguration(enabled: [.teacherDisagreement], disagreementDecisions: 2)
        options.shadowTeacher = TeacherDriver(horizon: 2)
        var driver = ConstantDriver(.faster)
        let result = EpisodeRunner.run(world, driver: &driver, options: options)
        #expect(result.triggers.map(\.kind) == [.teacherDisagreement])
    }
}
