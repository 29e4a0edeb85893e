import Foundation
import Testing
import Coordinator
import DrivingSimulator
import FleetEvaluation
import FleetWire
import PolicyNetwork

@Suite("regression gate")
struct RegressionGateTests {
    static let content = SimulatorContent.locate(from: URL(fileURLWithPath: #filePath))!

    /// Two gold episodes per family keep the test quick in a debug build.
    static func gate(_ configuration: RegressionGate.Configuration = .init()) throws -> RegressionGate {
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let full = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
        var perFamily: [String: Int] = [:]
        let episodes = full.episodes.filter { episode in
            perFamily[episode.family, default: 0] += 1
            return perFamily[episode.family]! <= 2
        }
        return RegressionGate(
            configuration: configuration, suite: GoldSuite(version: 1, description: "gate test subset", episodes: episodes),
            suiteName: "gold (subset)", library: library,
            guardrail: try Guardrail.load(contentsOf: content.guardrailRules)
        )
    }

    @Test("the same model passes its own gate")
    func samePasses() async throws {
        let gate = try Self.gate()
        let base = try BasePolicy.load(from: Self.content)
        let current = try await gate.evaluate(base, name: "current")
        let (summary, _) = try await gate.judge(candidate: base, current: current)
        #expect(summary.verdict == "promoted")
        #expect(summary.reasons.isEmpty)
        #expect(summary.families.count == 10)
        #expect(summary.candidateScore == summary.currentScore)
    }

    /// `count` episodes of each family, crashing in exactly the given episode indices.
    static func report(_ count: Int, crashing: [String: Set<Int>], families: [String] = ["fog"]) -> EvaluationReport {
        EvaluationReport(driver: "x", episodes: families.flatMap { family in
            (0..<count).map { index in
                EpisodeOutcome(
                    id: "\(family)-\(index)", family: family, collided: crashing[family, default: []].contains(index), offRoad: false,
                    collisionWith: nil, nearMiss: false, interventions: 0, meanSpeed: 20, rmsJerk: 1, minTimeToCollision: nil, time: 10)
            }
        })
    }

    @Test("a family whose episodes newly crash past chance is rejected, named with its paired numbers")
    func regressionRejected() throws {
        let gate = try Self.gate()
        let summary = gate.decide(current: Self.report(40, crashing: [:]), candidate: Self.report(40, crashing: ["fog": [0, 1, 2, 3, 4]]))
        #expect(summary.verdict == "rejected")
        #expect(summary.reasons == ["fog: collision-free fell from 100.0 to 87.5: 5 episodes newly crash, 0 newly clean (p = 0.0312, at most 0.0500 rejects)"])
        #expect(summary.families.first?.newlyCrashed == 5 && summary.families.first?.newlyClean == 0)
        #expect(abs((summary.families.first?.pValue ?? 0) - 1.0 / 32) < 1e-12)
        let four = gate.decide(current: Self.report(40, crashing: [:]), candidate: Self.report(40, crashing: ["fog": [0, 1, 2, 3]]))
        #expect(four.verdict == "promoted", "4 of 4 discordant episodes against: p = 1/16, not past 0.05")
        let approval = try Self.gate(.init(requiresApproval: true))
        #expect(approval.decide(current: Self.report(40, crashing: ["fog": [1]]), candidate: Self.report(40, crashing: [:])).verdict == "awaiting_approval")
    }

    @Test("knife-edge episodes flipping both ways cancel: churn with a net loss of two is no regression")
    func churnIsNotRegression() throws {
        let gate = try Self.gate()
        // 5 newly crash (5…9), 3 newly clean (0…2): P(X ≥ 5 | 8) = 93/256.
        let summary = gate.decide(current: Self.report(40, crashing: ["fog": [0, 1, 2, 3, 4]]), candidate: Self.report(40, crashing: ["fog": [3, 4, 5, 6, 7, 8, 9]]))
        #expect(summary.verdict == "promoted")
        #expect(abs((summary.families.first?.pValue ?? 0) - 93.0 / 256) < 1e-12)
    }

    @Test("the false-rejection rate is shared over the families' tests, and 0 never rejects on collisions")
    func sharedLevel() throws {
        let gate = try Self.gate()
        let families = ["fog", "ice"]
        let current = Self.report(40, crashing: [:], families: families)
        // Two families: each at 0.025. Five losses (p = 0.031) pass; six (p = 0.016) do not.
        #expect(gate.decide(current: current, candidate: Self.report(40, crashing: ["fog": Set(0..<5)], families: families)).verdict == "promoted")
        let six = gate.decide(current: current, candidate: Self.report(40, crashing: ["fog": Set(0..<6)], families: families))
        #expect(six.reasons.count == 1 && six.reasons[0].hasPrefix("fog:"))
        let never = try Self.gate(.init(falseRejectionRate: 0))
        #expect(never.decide(current: current, candidate: Self.report(40, crashing: ["fog": Set(0..<40)], families: families)).verdict == "promoted")
    }

    @Test("the sign test: exact tails, and the fewest clean losses a level rejects")
    func signTest() {
        #expect(SignTest.upperTail(0, of: 0) == 1)
        #expect(SignTest.upperTail(3, of: 2) == 0)
        #expect(abs(SignTest.upperTail(8, of: 8) - 1.0 / 256) < 1e-15)
        #expect(abs(SignTest.upperTail(5, of: 8) - 93.0 / 256) < 1e-12)
        #expect(abs(SignTest.upperTail(1, of: 8) - 255.0 / 256) < 1e-12)
        let half = SignTest.upperTail(250, of: 500)
        #expect(half > 0.5 && half < 0.52, "the middle of a symmetric distribution: \(half)")
        let far = SignTest.upperTail(400, of: 500)
        #expect(far > 0 && far < 1e-30)
        #expect(SignTest.smallestRejectedLosses(alpha: 0.005) == 8)
        #expect(SignTest.smallestRejectedLosses(alpha: 0.05) == 5)
        #expect(SignTest.smallestRejectedLosses(alpha: 0) == nil)
    }

    @Test("with the drift bound, losses no single round shows are caught against the fleet's first version")
    func driftAgainstFirstVersion() throws {
        let gate = try Self.gate(.init(boundsDrift: true))
        let first = Self.report(40, crashing: [:])
        let current = Self.report(40, crashing: ["fog": [0, 1, 2]])
        let candidate = Self.report(40, crashing: ["fog": Set(0..<6)])
        #expect(gate.decide(current: current, candidate: candidate).verdict == "promoted", "3 more than the serving model: p = 1/8")
        let summary = gate.decide(current: current, candidate: candidate, reference: first)
        #expect(summary.reasons == ["fog: against the fleet's first version 6 episodes newly crash, 0 newly clean (p = 0.0156, at most 0.0250 rejects)"])
    }
}
