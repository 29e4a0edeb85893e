import Testing
@testable import DrivingSimulator

@Suite("Storyboard actions")
struct StoryboardTests {
    func world(_ agent: Actor, _ condition: ScriptedAction.StartCondition, _ kind: ScriptedAction.Kind) -> World {
        var world = Fixtures.world(egoSpeed: 20, others: [agent])
        world.scripts = [ScriptedAction(actor: 1, condition: condition, kind: kind)]
        return world
    }

    @Test("a time condition fires at its time and a stop brings the agent to a standstill that lasts")
    func timeAndStop() {
        var world = world(Fixtures.car(lane: 1, s: 200, speed: 20), .time(1), .stop(deceleration: 5))
        for _ in 0..<15 { world.step() }  // conditions are checked at the start of a step, at t = 14/15 s here
        #expect(!world.scripts[0].started)
        world.step()
        #expect(world.scripts[0].started && world.scripts[0].startTime! >= 1 - 1e-9)
        for _ in 0..<(15 * 10) { world.step() }
        #expect(world.actors[1].speed == 0)
        #expect(world.actors[1].targetSpeed == 0)
    }

    @Test("a distance condition starts a cut-in into the ego's lane")
    func distanceCutIn() {
        var world = world(Fixtures.car(lane: 2, s: 160, speed: 15), .distance(30), .laneChange(lane: 1, lateralSpeed: 2))
        var startedAt = -1.0
        for _ in 0..<(15 * 8) where !world.isTerminal {
            world.step()
            if world.scripts[0].started && startedAt < 0 { startedAt = world.actors[1].s - world.actors[0].s }
        }
        #expect(startedAt > 0 && startedAt <= 30)
        #expect(world.actors[1].targetLane == 1)
    }

    @Test("a TTC condition fires once the ego closes in")
    func ttcBrake() {
        var world = world(Fixtures.car(lane: 1, s: 200, speed: 10), .timeToCollision(3), .brake(deceleration: 6, toSpeed: 5))
        var fired = false
        for _ in 0..<(15 * 10) where !fired {
            world.step()
            fired = world.scripts[0].started
        }
        #expect(fired)
        #expect(World.timeToCollision(follower: world.actors[0], leader: world.actors[1]) <= 3)
    }

    @Test("an opened door widens the box towards the road")
    func door() {
        var parked = Fixtures.car(lane: 0, s: 150, speed: 0, kind: .stalled)
        parked.d = 1.5
        var world = world(parked, .time(0), .openDoor(width: 1))
        world.step()
        #expect(world.actors[1].width == Actor.carWidth + 1)
        #expect(world.actors[1].d == 2.0)
    }

    @Test("a crossing pedestrian walks across and traffic in its lane stops for it")
    func pedestrian() {
        var walker = Actor(kind: .pedestrian, s: 200, d: -1.5, speed: 0, length: 0.6, width: 0.6, lane: -1, targetSpeed: 0)
        walker.changesLanes = false
        var world = world(walker, .time(0), .cross(speed: 1.5, direction: 1))
        world.actors[0].speed = 0
        world.apply(.brake)
        for _ in 0..<15 { world.step() }
        #expect(world.actors[1].d > -0.1)
        for _ in 0..<(15 * 12) { world.step() }
        #expect(world.actors[1].d > world.road.width)
    }

    @Test("a labelling driver records the teacher's label at every decision")
    func dagger() throws {
        let (episode, world) = try Fixtures.world("pedestrian", index: 2)
        var options = Fixtures.options(Fixtures.scenario("pedestrian"), episode: episode)
        options.duration = 3
        var driver = LabellingDriver(student: ConstantDriver(.faster), beta: 0.5, seed: 9)
        let result = EpisodeRunner.run(world, driver: &driver, options: options)
        #expect(driver.samples.count == result.decisions)
        #expect(driver.samples.allSatisfy { $0.observation.count == Observation.size })
        #expect(driver.samples.contains { $0.executed != .faster } || driver.samples.allSatisfy { $0.label == .faster })
    }

    @Test("a region draws its families and applies its environment")
    func regionEpisode() throws {
        let regions = try Region.loadAll(directory: Fixtures.content.regions, library: Fixtures.library)
        let alpine = try #require(regions.first { $0.name == "alpine" })
        for index in 0..<5 {
            let (episode, world) = try alpine.episode(index, seed: 77, library: Fixtures.library)
            #expect(alpine.families[episode.family] != nil)
            #expect(world.environment.friction >= 0.1 && world.environment.friction <= 0.45)
            let (again, _) = try alpine.episode(index, seed: 77, library: Fixtures.library)
            #expect(again == episode)
        }
    }
}
