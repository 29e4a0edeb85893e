import Testing
@testable import DrivingSimulator

@Suite("Ego dynamics and the friction circle")
struct DynamicsTests {
    @Test("straight ahead at constant speed stays in the lane centre")
    func straight() {
        var world = Fixtures.world()
        for _ in 0..<150 { world.step() }
        #expect(abs(world.actors[0].d - world.road.laneCentre(1)) < 1e-6)
        #expect(abs(world.actors[0].s - (100 + 25 * 10)) < 0.5)
    }

    @Test("braking is bounded by μ·g", arguments: [0.8, 0.3, 0.12])
    func brakingLimit(friction: Double) {
        var world = Fixtures.world(friction: friction)
        world.apply(.brake)
        world.step()
        let deceleration = -world.actors[0].acceleration
        #expect(deceleration <= friction * 9.81 + 1e-9)
        #expect(deceleration >= min(friction * 9.81, 9) - 1e-6)
    }

    @Test("stopping distance on ice is several times longer than on asphalt")
    func iceStoppingDistance() {
        func stoppingDistance(_ friction: Double) -> Double {
            var world = Fixtures.world(friction: friction, egoSpeed: 20)
            let start = world.actors[0].s
            while world.actors[0].speed > 0 {
                world.apply(.brake)
                world.step()
            }
            return world.actors[0].s - start
        }
        let asphalt = stoppingDistance(0.8), ice = stoppingDistance(0.15)
        #expect(abs(asphalt - 400 / (2 * 0.8 * 9.81)) < 2)
        #expect(ice > 4 * asphalt)
    }

    @Test("a bend is held within the friction limit and left beyond it")
    func cornering() {
        let segments = [RoadSegment(length: 200, speedLimit: 30), RoadSegment(length: 800, curvature: 1.0 / 250, speedLimit: 30),
                        RoadSegment(length: 500, speedLimit: 30)]
        func drive(friction: Double, speed: Double) -> World {
            var world = Fixtures.world(friction: friction, egoSpeed: speed, segments: segments)
            for _ in 0..<(15 * 40) where !world.isTerminal { world.step() }
            return world
        }
        // v²κ = 400/250 = 1.6 m/s² < 0.8·g: held.
        #expect(!drive(friction: 0.8, speed: 20).egoOffRoad)
        // 1.6 m/s² > 0.12·g = 1.18: slides off.
        #expect(drive(friction: 0.12, speed: 20).egoOffRoad)
        // Slow enough for ice: 12²/250 = 0.58 m/s² — held.
        #expect(!drive(friction: 0.12, speed: 12).egoOffRoad)
    }

    @Test("a lane change moves the ego to the next lane centre")
    func laneChange() {
        var world = Fixtures.world()
        world.apply(.laneLeft)
        for _ in 0..<(15 * 5) { world.step() }
        #expect(world.actors[0].lane == 2)
        #expect(abs(world.actors[0].d - world.road.laneCentre(2)) < 0.2)
    }

    @Test("FASTER and SLOWER move the target speed by the step")
    func speedActions() {
        var controller = EgoController(targetLane: 1, targetSpeed: 20)
        controller.apply(.faster, currentSpeed: 20, currentLane: 1, laneCount: 3)
        #expect(controller.targetSpeed == 24)
        controller.apply(.slower, currentSpeed: 24, currentLane: 1, laneCount: 3)
        #expect(controller.targetSpeed == 20)
        controller.apply(.laneRight, currentSpeed: 20, currentLane: 0, laneCount: 3)
        #expect(controller.targetLane == 0)
    }
}
