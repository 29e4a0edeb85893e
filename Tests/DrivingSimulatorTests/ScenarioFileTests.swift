import Foundation
import Testing
@testable import DrivingSimulator

@Suite("Simulator content files")
struct ScenarioFileTests {
    static let families = ["construction", "cut-in", "cut-out", "fog", "ice", "lead-brake", "on-ramp-merge",
                           "pedestrian", "sensor-dropout", "stalled-vehicle"]

    @Test("every required family has a scenario file that loads and builds at both ends of its ranges",
          arguments: families)
    func familyLoads(family: String) throws {
        let scenario = try #require(Fixtures.library.scenario(family: family))
        #expect(!scenario.parameters.isEmpty, "a family declares variation ranges")
        for extreme in [\ScenarioParameter.easy, \ScenarioParameter.hard] {
            let values = scenario.parameters.mapValues { $0[keyPath: extreme] }
            let world = try ScenarioBuilder.build(scenario, seed: scenario.seed, parameters: values)
            #expect(world.actors[0].kind == .ego)
            #expect(world.road.isDrivable(s: world.actors[0].s, d: world.actors[0].d))
        }
    }

    @Test("the gold suite loads, has at least 20 episodes per family, and every entry builds")
    func goldSuite() throws {
        let suite = try GoldSuite.load(contentsOf: Fixtures.content.goldSuite, library: Fixtures.library)
        #expect(suite.version >= 1)
        for family in Self.families {
            #expect(suite.episodes.filter { $0.family == family }.count >= 20, "\(family)")
        }
        for episode in suite.episodes {
            _ = try Fixtures.library.build(episode)
        }
    }

    @Test("the committed gold suite is what the generator produces")
    func goldSuiteIsReproducible() throws {
        let committed = try GoldSuite.load(contentsOf: Fixtures.content.goldSuite, library: Fixtures.library)
        let perFamily = committed.episodes.count / Fixtures.library.scenarios.count
        let regenerated = GoldSuite.generate(library: Fixtures.library, perFamily: perFamily, version: committed.version)
        #expect(regenerated.episodes.map(\.seed) == committed.episodes.map(\.seed))
        for (a, b) in zip(regenerated.episodes, committed.episodes) {
            for name in a.parameters.keys { #expect(abs(a.parameters[name]! - b.parameters[name]!) < 1e-9) }
        }
    }

    @Test("at least four regions load and name only known families")
    func regions() throws {
        let regions = try Region.loadAll(directory: Fixtures.content.regions, library: Fixtures.library)
        #expect(regions.count >= 4)
        var generator = SeededGenerator(seed: 3)
        for region in regions {
            #expect(region.families[region.drawFamily(using: &generator)] != nil)
        }
    }

    @Test("the guardrail rules load")
    func rules() throws {
        let guardrail = try Guardrail.load(contentsOf: Fixtures.content.guardrailRules)
        #expect(Set(guardrail.rules.map(\.kind)) == Set(GuardrailRule.Kind.allCases))
    }

    @Test("variant i of a scenario has seed mix(base, i) and parameters inside the declared ranges")
    func sampledEpisodes() {
        let scenario = Fixtures.scenario("cut-in")
        for index in 0..<50 {
            let episode = ScenarioBuilder.episode(scenario, index: index)
            #expect(episode.seed == SeededGenerator.mix(scenario.seed, UInt64(index)) & EpisodeSpec.seedMask)
            for (name, value) in episode.parameters {
                let declared = scenario.parameters[name]!
                #expect(value >= declared.lowerBound && value <= declared.upperBound)
            }
        }
    }
}
