import Testing
@testable import DrivingSimulator

@Suite("Observation layout")
struct ObservationTests {
    @Test("size and block offsets are the documented ones")
    func layout() {
        #expect(Observation.size == 109 && Observation.vehicleFeatures == 11 && Observation.layoutVersion == 2)
        #expect(Observation.laneOffset == 8 && Observation.environmentOffset == 16 && Observation.vehiclesOffset == 21)
        #expect(MetaAction.count == 6 && MetaAction.brake.rawValue == 5)
    }

    @Test("ego and the nearest vehicles are encoded relative and normalized")
    func encoding() {
        var world = Fixtures.world(others: [Fixtures.car(lane: 1, s: 140, speed: 20), Fixtures.car(lane: 2, s: 110, speed: 25),
                                            Fixtures.car(lane: 0, s: 300, speed: 25)])
        var observation = Observation()
        world.observe(into: &observation)
        #expect(observation.values[0] == Float(25.0 / 40))
        #expect(abs(observation.egoSpeed - 25) < 1e-5)
        let nearest = observation.vehicle(0)!
        #expect(abs(nearest.x - 10) < 1e-4 && abs(nearest.y - 3.75) < 1e-4)
        let lead = observation.vehicle(1)!
        #expect(abs(lead.x - 40) < 1e-4 && abs(lead.vx + 5) < 1e-4)
        #expect(abs(lead.length - 5) < 1e-4 && abs(lead.width - 2) < 1e-4 && lead.acceleration == 0 && lead.age == 0)
        #expect(abs(lead.bumperGap() - 35) < 1e-4)
        #expect(observation.vehicle(3) == nil)
        #expect(observation.values.allSatisfy { $0 >= -1 && $0 <= 1 })
        #expect(abs(observation.leadTimeToCollision - 35.0 / 5) < 1e-3)
    }

    @Test("fog hides what is beyond the visibility")
    func fog() {
        var world = Fixtures.world(others: [Fixtures.car(lane: 1, s: 160, speed: 20)])
        world.environment.visibility = 40
        var observation = Observation()
        world.observe(into: &observation)
        #expect(observation.vehicle(0) == nil)
        world.environment.visibility = 80
        world.observe(into: &observation)
        #expect(observation.vehicle(0) != nil)
    }

    @Test("dropout removes detections at about the given rate; the tracker keeps the object in its row")
    func dropout() {
        var world = Fixtures.world(others: [Fixtures.car(lane: 1, s: 150, speed: 25)])
        world.environment.dropout = 0.7
        var observation = Observation()
        var fresh = 0, tracked = 0
        for _ in 0..<400 {
            world.observe(into: &observation)
            if let lead = observation.vehicle(0) {
                tracked += 1
                if lead.age == 0 { fresh += 1 }
                #expect(lead.age <= Observation.maximumTrackAge + 1e-3)
                // Both drive at 25 m/s: the prediction stays where the car is.
                #expect(abs(lead.x - 50) < 0.5)
            }
            world.advance(with: .idle, steps: 3)
        }
        #expect(fresh > 85 && fresh < 155)
        #expect(tracked > 380)
    }

    @Test("the tracker's first frame sees every object in range, however many detections drop out later")
    func firstFrameSeesEverything() {
        let others = [Fixtures.car(lane: 1, s: 150, speed: 25), Fixtures.car(lane: 0, s: 90, speed: 25), Fixtures.car(lane: 2, s: 60, speed: 25)]
        for seed in 0..<20 {
            var world = Fixtures.world(others: others)
            world.environment.dropout = 0.95
            world.sensorGenerator = SeededGenerator(seed: UInt64(seed))
            var observation = Observation()
            world.observe(into: &observation)
            #expect((0..<3).allSatisfy { observation.vehicle($0) != nil })
            #expect(observation.vehicle(3) == nil)
            // Later frames drop detections; the tracker keeps each object, coasting.
            for _ in 0..<5 {
                world.advance(with: .idle, steps: 3)
                world.observe(into: &observation)
            }
            #expect((0..<3).allSatisfy { observation.vehicle($0) != nil })
        }
    }

    @Test("a track coasts at constant deceleration and stops rather than reversing")
    func trackPrediction() {
        let track = SensorTrack(time: 0, s: 100, d: 5, speed: 20, lateralSpeed: 0.5, heading: 0, acceleration: -8,
                                length: 5, width: 2, kind: 0)
        let second = track.predicted(after: 1)
        #expect(abs(second.s - 116) < 1e-9 && abs(second.speed - 12) < 1e-9 && abs(second.d - 5.5) < 1e-9)
        let later = track.predicted(after: 5)
        #expect(abs(later.s - 125) < 1e-9 && later.speed == 0)
    }

    @Test("the observed time-to-collision counts what walks into the lane, not what stays beside it")
    func crossingTimeToCollision() {
        var world = Fixtures.world(egoSpeed: 25, others: [Fixtures.walker(ahead: 30)])
        var observation = Observation()
        world.observe(into: &observation)
        #expect(observation.leadTimeToCollision == .infinity, "standing on the kerb")
        world.actors[1].lateralSpeed = 2
        world.observe(into: &observation)
        // 27.2 m to cover at 25 m/s: 1.09 s, by when the walker is 1.3 m from the lane centre.
        #expect(abs(observation.leadTimeToCollision - 27.2 / 25) < 0.01)
    }

    @Test("a lead braking at the ego's own speed is seconds away in the observed time-to-collision, never for the rules")
    func brakingLead() {
        var lead = Fixtures.car(lane: 1, s: 150, speed: 25)
        lead.acceleration = -8
        var world = Fixtures.world(egoSpeed: 25, others: [lead])
        var observation = Observation()
        world.observe(into: &observation)
        // 45 m bumper to bumper; the lead stops after 3.125 s and 39.1 m, the ego covers the last 5.9 m at 25 m/s.
        #expect(abs(observation.leadTimeToCollision - (3.125 + (45 - 39.0625) / 25)) < 0.02)
        #expect(GuardrailRule.headOnTimeToCollision(observation, laneWidth: 3.75) == .infinity)
        // Braking gently it is beyond the 10 s the feature shows.
        world.actors[1].acceleration = -0.3
        world.observe(into: &observation)
        #expect(observation.leadTimeToCollision == .infinity)
    }

    @Test("changing lanes, the observed time-to-collision looks along the lane the ego is moving into")
    func targetLane() {
        // A walker standing in lane 2, 30 m ahead; the ego, still in lane 1, steers left at 1.5 m/s.
        var walker = Fixtures.walker(ahead: 30)
        walker.d += 3.5 + 3.75
        walker.lane = 2
        var world = Fixtures.world(egoSpeed: 25, others: [walker])
        var observation = Observation()
        world.observe(into: &observation)
        #expect(observation.leadTimeToCollision == .infinity, "beside the ego's lane")
        world.controller.targetLane = 2
        world.actors[0].lateralSpeed = 1.5
        world.observe(into: &observation)
        #expect(abs(observation.leadTimeToCollision - 27.2 / 25) < 0.01)
        #expect(GuardrailRule.headOnTimeToCollision(observation, laneWidth: 3.75) == .infinity)
    }

    @Test("a walker who reaches the lane while the ego is alongside counts; one who reaches it after the ego has passed does not")
    func crossingAlongside() {
        func timeToCollision(walkerAhead ahead: Double) -> Double {
            var world = Fixtures.world(egoSpeed: 25, others: [Fixtures.walker(ahead: ahead, lateralSpeed: 2)])
            var observation = Observation()
            world.observe(into: &observation)
            return observation.leadTimeToCollision
        }
        // Front and walker meet after 0.7 s, 2.1 m apart; the walker is within half a lane
        // (1.875 m) of the ego's line at 0.81 s, before the ego's rear has passed (0.92 s).
        #expect(abs(timeToCollision(walkerAhead: 20.3) - 0.8125) < 0.01)
        // 10 m ahead the ego has gone by (0.51 s) before the walker arrives.
        #expect(timeToCollision(walkerAhead: 10) == .infinity)
    }

    @Test("the curve-speed advisory slows for an icy bend ahead and is the limit on a straight")
    func advisory() {
        let bend = [RoadSegment(length: 200, speedLimit: 30), RoadSegment(length: 250, curvature: 0.005, speedLimit: 30),
                    RoadSegment(length: 600, speedLimit: 30)]
        var world = Fixtures.world(friction: 0.15, segments: bend)
        var observation = Observation()
        world.observe(into: &observation)
        // The bend starts 100 m ahead: √(0.8·μ̂·g/κ) there, plus what 100 m of braking at 0.7·μ̂·g sheds.
        let grip = world.frictionEstimate * 9.81
        let expected = (0.8 * grip / 0.005 + 2 * 0.7 * grip * 100).squareRoot()
        #expect(abs(observation.advisorySpeed - expected) < 0.01)
        #expect(observation.advisorySpeed < 22, "an ego at 25 m/s is told to slow down")
        var straight = Fixtures.world(friction: 0.15)
        straight.observe(into: &observation)
        #expect(abs(observation.advisorySpeed - 30) < 1e-4, "the limit")
    }

    @Test("an opening door widens the object's row")
    func extent() {
        var world = Fixtures.world(others: [Fixtures.car(lane: 1, s: 140, speed: 0, kind: .stalled)])
        var observation = Observation()
        world.observe(into: &observation)
        #expect(abs(observation.vehicle(0)!.width - 2) < 1e-4 && observation.vehicle(0)!.kind == 0.5)
        world.openDoor(ofActor: 1, width: 1.2)
        world.observe(into: &observation)
        #expect(abs(observation.vehicle(0)!.width - 3.2) < 1e-4)
    }

    @Test("latency delivers the frame from the given number of periods ago")
    func latency() {
        var world = Fixtures.world(egoSpeed: 20)
        world.environment.latency = 0.4
        var observation = Observation()
        var speeds: [Float] = []
        for _ in 0..<6 {
            world.observe(into: &observation)
            speeds.append(observation.values[0])
            world.advance(with: .faster, steps: 3)
        }
        let fresh = Float(world.actors[0].speed / 40)
        #expect(speeds[0] == speeds[1] && speeds[1] == speeds[2])
        #expect(speeds[5] < fresh)
    }
}
