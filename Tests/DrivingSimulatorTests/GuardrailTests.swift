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

    @Test("a lane change into an occupied gap is refused")
    func occupiedGap() {
        let observation = observe(Fixtures.world(others: [Fixtures.car(lane: 2, s: 103, speed: 25)]))
        let verdict = guardrail.filter(.laneLeft, observation: observation, laneWidth: 3.75)
        #expect(verdict.intervened && verdict.rule == "gap" && verdict.action != .laneLeft)
        #expect(!guardrail.filter(.laneRight, observation: observation, laneWidth: 3.75).intervened)
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
