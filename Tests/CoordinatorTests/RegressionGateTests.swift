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

    @Test("a candidate that regresses a family is rejected, the family named")
    func regressionRejected() throws {
        let gate = try Self.gate()
        func report(fogCrashes: Int) -> EvaluationReport {
            let episodes = (0..<4).map { index in
                EpisodeOutcome(
                    id: "fog-\(index)", family: "fog", collided: index < fogCrashes, offRoad: false, collisionWith: nil,
                    nearMiss: false, interventions: 0, meanSpeed: 20, rmsJerk: 1, minTimeToCollision: nil, time: 10
                )
            }
            return EvaluationReport(driver: "x", episodes: episodes)
        }
        let summary = gate.decide(current: report(fogCrashes: 0), candidate: report(fogCrashes: 1))
        #expect(summary.verdict == "rejected")
        #expect(summary.reasons.count == 1)
        #expect(summary.reasons[0].hasPrefix("fog: collision-free fell from 100.0 to 75.0"))
        let approval = try Self.gate(.init(requiresApproval: true))
        #expect(approval.decide(current: report(fogCrashes: 1), candidate: report(fogCrashes: 0)).verdict == "awaiting_approval")
    }

    /// Four episodes each of fog and ice, the first `crashes[family]` of a family collided.
    static func report(crashes: [String: Int]) -> EvaluationReport {
        let episodes = ["fog", "ice"].flatMap { family in
            (0..<4).map { index in
                EpisodeOutcome(
                    id: "\(family)-\(index)", family: family, collided: index < crashes[family, default: 0], offRoad: false,
                    collisionWith: nil, nearMiss: false, interventions: 0, meanSpeed: 20, rmsJerk: 1, minTimeToCollision: nil, time: 10)
            }
        }
        return EvaluationReport(driver: "x", episodes: episodes)
    }

    @Test("with a minimum gain, a candidate within every family's tolerance but no better overall is rejected")
    func minimumGain() throws {
        let loose = try Self.gate(.init(tolerance: 30, minimumGain: 0))
        let current = Self.report(crashes: ["fog": 2])
        let traded = loose.decide(current: current, candidate: Self.report(crashes: ["fog": 1, "ice": 1]))
        #expect(traded.verdict == "rejected", "one episode won in fog and one lost in ice is no gain")
        #expect(traded.reasons == ["the whole suite's collision-free rate went from 75.0 to 75.0 (it must gain more than 0.0 points)"])
        #expect(loose.decide(current: current, candidate: Self.report(crashes: ["ice": 1])).verdict == "promoted", "a net gain within the tolerance ships")
        #expect(loose.decide(current: current, candidate: Self.report(crashes: ["fog": 2, "ice": 1])).reasons.count == 1, "a net loss does not")
    }

    @Test("with a drift tolerance, no family may fall below the fleet's first version by more, round after round")
    func driftTolerance() throws {
        // Each round may lose one episode of four in a family (25 points); the sum of rounds may lose none.
        let guarded = try Self.gate(.init(tolerance: 30, driftTolerance: 0))
        let first = Self.report(crashes: [:])
        let current = Self.report(crashes: ["ice": 1])  // already down one ice episode
        let foggier = guarded.decide(current: current, candidate: Self.report(crashes: ["ice": 1, "fog": 1]), reference: first)
        #expect(foggier.verdict == "rejected", "within the round's tolerance, but below the first version")
        #expect(foggier.reasons == ["fog: collision-free would fall to 75.0, below the fleet's first version's 100.0 (drift tolerance 0.0 points)"])
        #expect(guarded.decide(current: current, candidate: Self.report(crashes: ["ice": 2]), reference: first).verdict == "rejected", "ice may not fall further")
        #expect(guarded.decide(current: current, candidate: Self.report(crashes: ["ice": 1]), reference: first).verdict == "promoted", "a family already down may stay")
        #expect(guarded.decide(current: current, candidate: Self.report(crashes: [:]), reference: first).verdict == "promoted")
        #expect(guarded.decide(current: first, candidate: Self.report(crashes: ["fog": 1]), reference: nil).verdict == "promoted", "no reference, no drift rule")
    }

    @Test("with standard errors, a family that fails few episodes may lose fewer; one that fails many keeps the fixed tolerance")
    func toleranceInStandardErrors() throws {
        let rules = RegressionGate.Configuration(tolerance: 4.2, toleranceStandardErrors: 1)
        func family(failing: Int) -> FamilyScore {
            EvaluationReport(driver: "x", episodes: (0..<96).map { index in
                EpisodeOutcome(
                    id: "ice-\(index)", family: "ice", collided: index < failing, offRoad: false, collisionWith: nil, nearMiss: false,
                    interventions: 0, meanSpeed: 20, rmsJerk: 1, minTimeToCollision: nil, time: 10)
            }).overall
        }
        #expect(abs(rules.tolerance(for: family(failing: 4)) - 2.04) < 0.01, "4 of 96: one episode may go, not two")
        #expect(abs(rules.tolerance(for: family(failing: 0)) - 1.04) < 0.01, "none failing counts as one")
        #expect(rules.tolerance(for: family(failing: 48)) == 4.2, "half failing: the fixed tolerance")
        #expect(RegressionGate.Configuration(tolerance: 4.2).tolerance(for: family(failing: 4)) == 4.2)
        // Four episodes a family, one failing: the standard error is 21.7 points, so losing one more (25) is too much.
        let loose = try Self.gate(.init(tolerance: 30))
        let scaled = try Self.gate(.init(tolerance: 30, toleranceStandardErrors: 1))
        let current = Self.report(crashes: ["fog": 1, "ice": 1])
        let candidate = Self.report(crashes: ["fog": 2])
        #expect(loose.decide(current: current, candidate: candidate).verdict == "promoted")
        #expect(scaled.decide(current: current, candidate: candidate).reasons == ["fog: collision-free fell from 75.0 to 50.0 (tolerance 21.7 points)"])
    }

    /// Eight episodes each of fog and ice, crashing in exactly the given episode indices.
    static func report(crashing: [String: Set<Int>]) -> EvaluationReport {
        EvaluationReport(driver: "x", episodes: ["fog", "ice"].flatMap { family in
            (0..<8).map { index in
                EpisodeOutcome(
                    id: "\(family)-\(index)", family: family, collided: crashing[family, default: []].contains(index), offRoad: false,
                    collisionWith: nil, nearMiss: false, interventions: 0, meanSpeed: 20, rmsJerk: 1, minTimeToCollision: nil, time: 10)
            }
        })
    }

    @Test("flips are counted episode by episode: a family that only loses fails, one that churns may lose one net")
    func pairedFlips() throws {
        let current = Self.report(crashing: ["fog": [0, 1, 2], "ice": [0]])
        let candidate = Self.report(crashing: ["fog": [1, 2, 3, 4], "ice": [0, 5]])
        let flips = EpisodeFlips.byFamily(from: current, to: candidate)
        #expect(flips["fog"] == EpisodeFlips(newlyCrashed: 2, newlyClean: 1))
        #expect(flips["ice"] == EpisodeFlips(newlyCrashed: 1, newlyClean: 0))
        let rules = RegressionGate.Configuration(tolerance: 30, flipStandardErrors: 1)
        #expect(!rules.isRegression(EpisodeFlips(newlyCrashed: 2, newlyClean: 1)), "1 net of 3 flips is within √3")
        #expect(rules.isRegression(EpisodeFlips(newlyCrashed: 3, newlyClean: 0)))
        #expect(!rules.isRegression(EpisodeFlips(newlyCrashed: 1, newlyClean: 4)), "a net gain is never a regression")
        #expect(!RegressionGate.Configuration(tolerance: 30).isRegression(EpisodeFlips(newlyCrashed: 5)), "off unless configured")
        let reasons = try Self.gate(rules).decide(current: current, candidate: candidate).reasons
        #expect(reasons == ["ice: episodes newly crashing 1, newly clean 0 (a net loss of at least 1.0 standard errors of the flips)"])
        #expect(try Self.gate(.init(tolerance: 30)).decide(current: current, candidate: candidate).verdict == "promoted")
    }

    @Test("drift in standard errors: a family the first version drives clean may end no episode worse; a knife-edge one may end one")
    func driftInStandardErrors() throws {
        // Eight episodes a family: first version fog 0 of 8 failing (p taken as 1/8: SE 11.7 points), ice 4 of 8 (SE 17.7).
        let rules = RegressionGate.Configuration(tolerance: 30, driftStandardErrors: 0.8)
        #expect(rules.boundsDrift)
        #expect(!RegressionGate.Configuration(tolerance: 30).boundsDrift)
        let first = Self.report(crashing: ["ice": [0, 1, 2, 3]])
        #expect(abs(rules.driftTolerance(for: first.families[0])! - 0.8 * 11.69) < 0.01)
        #expect(RegressionGate.Configuration(tolerance: 30, driftTolerance: 5, driftStandardErrors: 0.8).driftTolerance(for: first.families[0]) == 5,
                "the fixed bound still caps it")
        let gate = try Self.gate(rules)
        let foggier = gate.decide(current: first, candidate: Self.report(crashing: ["fog": [0], "ice": [0, 1, 2, 3]]), reference: first)
        #expect(foggier.reasons == ["fog: collision-free would fall to 87.5, below the fleet's first version's 100.0 (drift tolerance 9.4 points)"])
        let icier = gate.decide(current: first, candidate: Self.report(crashing: ["ice": [0, 1, 2, 3, 4]]), reference: first)
        #expect(icier.verdict == "promoted", "one of eight is within 0.8 × 17.7 points")
    }
}
