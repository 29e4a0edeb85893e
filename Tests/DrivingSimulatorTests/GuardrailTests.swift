import Foundation
import Testing
@testable import DrivingSimulator

@Suite("Guardrail")
struct GuardrailTests {
    let guardrail = Guardrail(rules: [
        GuardrailRule(id: "ttc", kind: .timeToCollisionBrake, threshold: 1.0),
        GuardrailRule(id: "gap", kind: .occupiedGap, threshold: 4),
        GuardrailRule(id: "limit", kind: .speedLimit, threshold: 0.1),
    ])

    func observe(_ world: World) -> Observation {
        var world = world
        var observation = Observation()
        world.observe(into: &observation)
        return observation
    }

    @Test("time-to-collision under 1 s forces BRAKE")
    func ttcBrake() {
        let observation = observe(Fixtures.world(egoSpeed: 25, others: [Fixtures.car(lane: 1, s: 112, speed: 15)]))
        let verdict = guardrail.filter(.faster, observation: observation, laneWidth: 3.75)
        #expect(verdict.action == .brake && verdict.rule == "ttc")
    }

    @Test("a walker who reaches the lane only while the ego is alongside is in the observed time-to-collision, not the brake rule's")
    func walkerAlongside() {
        // 20.3 m ahead, 3.5 m to the side, crossing at 2 m/s: the ego's front passes at 0.7 s with the
        // walker 2.1 m off its line; the walker is within half a lane at 0.81 s, before the rear passes.
        let observation = observe(Fixtures.world(egoSpeed: 25, others: [Fixtures.walker(ahead: 20.3, lateralSpeed: 2)]))
        #expect(observation.leadTimeToCollision < 1)
        #expect(GuardrailRule.headOnTimeToCollision(observation, laneWidth: 3.75) == .infinity)
        #expect(!guardrail.filter(.faster, observation: observation, laneWidth: 3.75).intervened, "braking would keep the ego alongside")
    }

    @Test("a lane change into an occupied gap is refused")
    func occupiedGap() {
        let observation = observe(Fixtures.world(others: [Fixtures.car(lane: 2, s: 103, speed: 25)]))
        let verdict = guardrail.filter(.laneLeft, observation: observation, laneWidth: 3.75)
        #expect(verdict.intervened && verdict.rule == "gap" && verdict.action != .laneLeft)
        #expect(!guardrail.filter(.laneRight, observation: observation, laneWidth: 3.75).intervened)
    }

    @Test("under 1 s to the lead, steering into a free lane passes and steering into an occupied one brakes")
    func evasiveLaneChange() {
        let lead = Fixtures.car(lane: 1, s: 112, speed: 15)
        let free = observe(Fixtures.world(egoSpeed: 25, others: [lead]))
        #expect(free.leadTimeToCollision < 1)
        #expect(!guardrail.filter(.laneLeft, observation: free, laneWidth: 3.75).intervened, "steering around the lead is the way out")
        #expect(guardrail.filter(.idle, observation: free, laneWidth: 3.75).action == .brake)
        let occupied = observe(Fixtures.world(egoSpeed: 25, others: [lead, Fixtures.car(lane: 2, s: 101, speed: 25)]))
        #expect(guardrail.filter(.laneLeft, observation: occupied, laneWidth: 3.75) == Guardrail.Verdict(action: .brake, rule: "ttc"))
    }

    @Test("in an emergency a blocked lane change brakes, never coasts, and a gap free by the emergency margin is open")
    func emergencyGap() {
        // Lead 1.3 s away: an emergency, though not yet under the 1 s of the brake rule.
        let lead = Fixtures.car(lane: 1, s: 100 + Actor.carLength + 13, speed: 15)
        let alongside = observe(Fixtures.world(egoSpeed: 25, others: [lead, Fixtures.car(lane: 2, s: 101, speed: 25)]))
        #expect(alongside.leadTimeToCollision > 1 && alongside.leadTimeToCollision < 1.5)
        #expect(guardrail.filter(.laneLeft, observation: alongside, laneWidth: 3.75) == Guardrail.Verdict(action: .brake, rule: "gap"))
        // 3 m bumper to bumper, same speed: too close in ordinary driving, free in an emergency.
        let behind = Fixtures.car(lane: 2, s: 100 - Actor.carLength - 3, speed: 25)
        let ordinary = observe(Fixtures.world(egoSpeed: 25, others: [behind]))
        #expect(guardrail.filter(.laneLeft, observation: ordinary, laneWidth: 3.75) == Guardrail.Verdict(action: .idle, rule: "gap"))
        let emergency = observe(Fixtures.world(egoSpeed: 25, others: [lead, behind]))
        #expect(!guardrail.filter(.laneLeft, observation: emergency, laneWidth: 3.75).intervened)
    }

    @Test("under the repository's rules the teacher crashes in no gold episode it drives clean without them")
    func teacherUnderRules() async throws {
        let rules = try Guardrail.load(contentsOf: Fixtures.content.guardrailRules)
        // Every episode the rules of rule-file version 1 turned into a crash, and the first three of every family.
        var wanted = Set([4, 22, 25, 37, 41, 45, 47, 49, 51, 55, 75, 82, 85].map { String(format: "stalled-vehicle-%03d", $0) })
        wanted.insert("pedestrian-006")
        // Braking for a walker who only reaches the lane while the ego passes keeps the ego alongside.
        wanted.insert("pedestrian-033")
        let suite = try GoldSuite.load(contentsOf: Fixtures.content.goldSuite, library: Fixtures.library)
        let episodes = suite.episodes.filter { wanted.contains($0.id) || (Int($0.id.suffix(3)) ?? 99) < 3 }
        let free = try await Evaluator.evaluate(episodes: episodes, library: Fixtures.library, driverName: "teacher") { TeacherDriver() }
        let guarded = try await Evaluator.evaluate(episodes: episodes, library: Fixtures.library, driverName: "teacher", guardrail: rules) { TeacherDriver() }
        let crashedFree = Set(free.episodes.filter(\.crashed).map(\.id))
        let madeWorse = guarded.episodes.filter { $0.crashed && !crashedFree.contains($0.id) }.map(\.id)
        #expect(madeWorse.isEmpty, "the rules turned clean drives into crashes: \(madeWorse)")
        #expect(guarded.episodes.count == episodes.count)
    }

    @Test("never more than 10 % over the limit")
    func speedLimit() {
        let fast = observe(Fixtures.world(egoSpeed: 34))
        #expect(guardrail.filter(.idle, observation: fast, laneWidth: 3.75).action == .slower)
        let atLimit = observe(Fixtures.world(egoSpeed: 30))
        #expect(guardrail.filter(.faster, observation: atLimit, laneWidth: 3.75).action == .idle)
        #expect(!guardrail.filter(.slower, observation: atLimit, laneWidth: 3.75).intervened)
    }

    @Test("a compliant decision passes untouched")
    func compliant() {
        let observation = observe(Fixtures.world(egoSpeed: 20, others: [Fixtures.car(lane: 1, s: 200, speed: 20)]))
        for action in MetaAction.allCases where action != .faster {
            #expect(guardrail.filter(action, observation: observation, laneWidth: 3.75) == Guardrail.Verdict(action: action, rule: nil))
        }
    }

    @Test("a guarded driver counts interventions and leaves the rules unchanged")
    func guardedDriver() {
        let world = Fixtures.world(egoSpeed: 25, others: [Fixtures.car(lane: 1, s: 112, speed: 15)])
        var guarded = GuardedDriver(ConstantDriver(.faster), guardrail: guardrail)
        let context = DriverContext(world: world, decisionSteps: 3)
        for _ in 0..<3 { #expect(guarded.decide(observe(world), context: context) == .brake) }
        #expect(guarded.interventions == 3)
        #expect(guarded.guardrail == guardrail)
    }

    @Test("rule files with unknown kinds are rejected naming the field")
    func badRules() {
        let text = #"{"schema": "fleet-rules/1", "version": 1, "rules": [{"id": "x", "kind": "teleport", "threshold": 1}]}"#
        #expect {
            try Guardrail.parse(Data(text.utf8), file: "rules.json")
        } throws: { error in
            (error as? SimulationError)?.field == "rules[0].kind" && "\(error)".contains("rules.json")
        }
    }
}
