import Foundation
import Testing
@testable import DrivingSimulator

@Suite("Variations and the teacher")
struct VariationAndTeacherTests {
    func capture() throws -> Capture {
        let (episode, world) = try Fixtures.world("cut-in", index: 0)
        var options = Fixtures.options(Fixtures.scenario("cut-in"), episode: episode)
        options.triggers = TriggerConfiguration()
        var driver = BaselineDriver()
        return try #require(EpisodeRunner.run(world, driver: &driver, options: options).captures.first)
    }

    @Test("variant i is reproducible, uses seed mix(base, i), and differs from variant j")
    func reproducibleVariants() throws {
        let sampler = VariationSampler(capture: try capture())
        #expect(sampler.seed(of: 7) == SeededGenerator.mix(sampler.capture.seed, 7))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(sampler.variant(7)) == encoder.encode(sampler.variant(7)))
        #expect(sampler.variant(7).actors != sampler.variant(8).actors)
    }

    @Test("a thousand variants stay within the declared ranges")
    func thousandVariants() throws {
        let capture = try capture()
        let sampler = VariationSampler(capture: capture)
        let base = capture.snapshot.environment.friction
        for index in 0..<1_000 {
            let world = sampler.variant(index)
            #expect(abs(world.environment.friction / base - 1) <= sampler.ranges.friction + 1e-9)
            #expect(world.actors[0].kind == .ego && world.time == capture.snapshot.time)
        }
    }

    @Test("the teacher brakes or swerves for a stopped car ahead and the baseline follows its lead into it")
    func teacherReacts() {
        let world = Fixtures.world(egoSpeed: 25, others: [Fixtures.car(lane: 1, s: 150, speed: 0, kind: .stalled)])
        let action = TeacherDriver().decide(world: world, decisionSteps: 3)
        #expect([.brake, .slower, .laneLeft, .laneRight].contains(action))
    }

    @Test("the teacher keeps the following distance of a driver who perceives late")
    func followingDistance() {
        // One lane, a car 20 m ahead (bumper to bumper) at the ego's 25 m/s.
        var world = Fixtures.world(lanes: 1, egoLane: 0, egoSpeed: 25, others: [Fixtures.car(lane: 0, s: 125, speed: 25)])
        let prompt = TeacherDriver.headwayShortfall(world)
        world.environment.latency = 0.5
        let late = TeacherDriver.headwayShortfall(world)
        // Reacting after 0.3 s needs 7.5 m plus the ego's longer stop (0.8·μ·g against the lead's μ·g, 10 m): 20 m is enough.
        #expect(prompt == 0)
        // Perceiving 0.6 s late needs 15 m more: 12.5 m short.
        #expect(abs(late - 12.5) < 0.1)
        #expect([.slower, .brake].contains(TeacherDriver().decide(world: world, decisionSteps: 3)))
    }

    @Test("the teacher drives gold episodes without crashing", arguments: [("pedestrian", 1), ("cut-in", 0)])
    func teacherEpisode(family: String, index: Int) throws {
        let (episode, world) = try Fixtures.world(family, index: index)
        var teacher = TeacherDriver()
        let result = EpisodeRunner.run(world, driver: &teacher, options: Fixtures.options(Fixtures.scenario(family), episode: episode))
        #expect(!result.crashed)
        var baseline = BaselineDriver()
        _ = EpisodeRunner.run(world, driver: &baseline, options: Fixtures.options(Fixtures.scenario(family), episode: episode))
    }

    @Test("evaluation aggregates per family and renders a table")
    func evaluation() async throws {
        let scenario = Fixtures.scenario("construction")
        let episodes = (0..<2).map { ScenarioBuilder.episode(scenario, index: $0) }
        let report = try await Evaluator.evaluate(episodes: episodes, library: Fixtures.library, driverName: "baseline") {
            BaselineDriver()
        }
        #expect(report.families.map(\.family) == ["construction"])
        #expect(report.overall.episodes == 2)
        #expect(report.table().contains("construction"))
        let decoded = try JSONDecoder().decode(EvaluationReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
    }

    @Test("variations of a capture evaluate as a held-out suite under the capture's family")
    func variationSuite() async throws {
        let sampler = VariationSampler(capture: try capture())
        let items = sampler.items(count: 20, seconds: 4)
        #expect(items.allSatisfy { abs($0.duration - $0.world.time - 4) < 1e-9 })
        let report = await Evaluator.evaluate(items: items, driverName: "baseline") { BaselineDriver() }
        #expect(report.families.map(\.family) == ["cut-in"])
        #expect(report.overall.episodes == 20)
        let again = await Evaluator.evaluate(items: items, driverName: "baseline", concurrency: 1) { BaselineDriver() }
        #expect(again == report)
    }
}
