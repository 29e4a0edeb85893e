import Testing
@testable import DrivingSimulator

@Suite("IDM and MOBIL")
struct TrafficModelTests {
    let p = DriverBehaviour.highwayDefault

    @Test("highway-env defaults")
    func defaults() {
        #expect(p.maxAcceleration == 3 && p.comfortableDeceleration == 5 && p.timeHeadway == 1.5)
        #expect(p.exponent == 4 && p.minimumGap == 10 && p.politeness == 0)
        #expect(p.laneChangeGain == 0.2 && p.safeBraking == 2)
    }

    @Test("free road: a at standstill, zero at the desired speed, negative above it")
    func freeRoad() {
        #expect(IntelligentDriverModel.acceleration(speed: 0, desiredSpeed: 30, gap: .infinity, closingSpeed: 0, behaviour: p) == 3)
        #expect(abs(IntelligentDriverModel.acceleration(speed: 30, desiredSpeed: 30, gap: .infinity, closingSpeed: 0, behaviour: p)) < 1e-12)
        #expect(IntelligentDriverModel.acceleration(speed: 35, desiredSpeed: 30, gap: .infinity, closingSpeed: 0, behaviour: p) < 0)
    }

    @Test("desired gap s* = s0 + vT + vΔv / (2√(ab))")
    func desiredGap() {
        let root: Double = (3.0 * 5.0).squareRoot()
        let dynamic: Double = 20.0 * 5.0 / (2.0 * root)
        let expected: Double = 10.0 + 20.0 * 1.5 + dynamic
        #expect(abs(IntelligentDriverModel.desiredGap(speed: 20, closingSpeed: 5, behaviour: p) - expected) < 1e-12)
    }

    @Test("closing fast on a stopped obstacle brakes harder than b")
    func interaction() {
        let a = IntelligentDriverModel.acceleration(speed: 25, desiredSpeed: 30, gap: 30, closingSpeed: 25, behaviour: p)
        #expect(a < -5)
        let relaxed = IntelligentDriverModel.acceleration(speed: 25, desiredSpeed: 30, gap: 200, closingSpeed: 0, behaviour: p)
        #expect(relaxed > a)
    }

    @Test("MOBIL: incentive against the threshold and safety against b_safe")
    func mobil() {
        #expect(LaneChangeModel.incentive(changerGain: 0.3, newFollowerGain: -5, oldFollowerGain: 0, behaviour: p) > 0)
        var polite = p
        polite.politeness = 0.5
        #expect(LaneChangeModel.incentive(changerGain: 0.3, newFollowerGain: -1, oldFollowerGain: 0, behaviour: polite) < 0)
        #expect(LaneChangeModel.isSafe(newFollowerAcceleration: -1.9, behaviour: p))
        #expect(!LaneChangeModel.isSafe(newFollowerAcceleration: -2.1, behaviour: p))
    }

    @Test("traffic behind a slow truck overtakes by MOBIL, and never into an occupied gap")
    func overtakes() {
        var world = Fixtures.world(lanes: 2, egoLane: 1, egoSpeed: 20, others: [
            Fixtures.car(lane: 0, s: 300, speed: 15, kind: .truck),
            Fixtures.car(lane: 0, s: 250, speed: 28),
        ])
        world.actors[1].targetSpeed = 15
        world.actors[2].targetSpeed = 30
        world.actors[1].length = Actor.truckLength
        var changed = false
        for _ in 0..<(15 * 20) {
            world.step()
            if world.actors[2].targetLane == 1 { changed = true }
        }
        #expect(changed)
        #expect(!world.actors.contains { $0.crashed })
    }

    @Test("a lane that ends acts as a stopped obstacle: traffic merges or stops before it")
    func laneEnd() {
        let road = Road(laneCount: 2, laneWidth: 3.75, segments: [RoadSegment(length: 2_000, speedLimit: 30)],
                        closures: [LaneClosure(lane: 0, from: 400, to: 2_000, cones: false)])
        var car = Fixtures.car(lane: 0, s: 200, speed: 25)
        car.changesLanes = false
        let ego = Actor(kind: .ego, s: 50, d: road.laneCentre(1), speed: 0, length: 5, width: 2, lane: 1, targetSpeed: 0)
        var world = World(road: road, environment: Environment(), actors: [ego, car], sensorSeed: 1)
        for _ in 0..<(15 * 30) { world.step() }
        #expect(world.actors[1].s < 400)
        #expect(world.actors[1].speed < 0.5)
    }
}
