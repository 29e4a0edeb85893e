import Foundation
import Testing
@testable import DrivingSimulator

@Suite("Determinism")
struct DeterminismTests {
    @Test("same seed gives bit-identical trajectories", arguments: ["cut-in", "sensor-dropout", "on-ramp-merge"])
    func sameSeedSameTrajectory(family: String) throws {
        let (episode, first) = try Fixtures.world(family, index: 3)
        let (_, second) = try Fixtures.world(family, index: 3)
        var options = Fixtures.options(Fixtures.scenario(family), episode: episode)
        options.recordDigest = true
        var a = BaselineDriver(), b = BaselineDriver()
        let runA = EpisodeRunner.run(first, driver: &a, options: options)
        let runB = EpisodeRunner.run(second, driver: &b, options: options)
        #expect(runA.trajectoryDigest == runB.trajectoryDigest)
        #expect(runA.distance.bitPattern == runB.distance.bitPattern)
        #expect(runA.actionCounts == runB.actionCounts)
    }

    @Test("a different seed gives a different trajectory")
    func differentSeedDiffers() throws {
        let (episodeA, a) = try Fixtures.world("cut-in", index: 1)
        let (_, b) = try Fixtures.world("cut-in", index: 2)
        var options = Fixtures.options(Fixtures.scenario("cut-in"), episode: episodeA)
        options.recordDigest = true
        var driver = BaselineDriver()
        let first = EpisodeRunner.run(a, driver: &driver, options: options)
        let second = EpisodeRunner.run(b, driver: &driver, options: options)
        #expect(first.trajectoryDigest != second.trajectoryDigest)
    }

    @Test("a world decoded mid-episode continues exactly like the original")
    func snapshotContinuesIdentically() throws {
        var (_, world) = try Fixtures.world("sensor-dropout", index: 0)
        var observation = Observation()
        for _ in 0..<20 {
            world.observe(into: &observation)
            world.advance(with: .idle, steps: 3)
        }
        let copy = try JSONDecoder().decode(World.self, from: try JSONEncoder().encode(world))
        var original = world, restored = copy
        var o1 = Observation(), o2 = Observation()
        for _ in 0..<40 {
            original.observe(into: &o1)
            restored.observe(into: &o2)
            #expect(o1 == o2)
            original.advance(with: .faster, steps: 3)
            restored.advance(with: .faster, steps: 3)
        }
        #expect(original.actors == restored.actors)
    }

    @Test("SplitMix64 reproduces its sequence and mix is a function of both inputs")
    func generator() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
        #expect(SeededGenerator.mix(1, 2) == SeededGenerator.mix(1, 2))
        #expect(SeededGenerator.mix(1, 2) != SeededGenerator.mix(2, 1))
        var c = SeededGenerator(seed: 7)
        let draws = (0..<10_000).map { _ in c.unit() }
        #expect(draws.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = draws.reduce(0, +) / Double(draws.count)
        #expect(abs(mean - 0.5) < 0.02)
    }
}
