import ArgumentParser
import Coordinator
import DrivingSimulator
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork

/// `gate-benchmark`: how often the coordinator's gate rejects a candidate that
/// is no worse than the serving model, how often it catches one that is, and
/// what a decision costs.
///
/// The serving model is the committed base policy, evaluated once on the gold
/// suite under the guardrail, exactly as the coordinator does.
///
/// - **Equal candidates**: the serving model with every weight w replaced by
///   w·(1 + ε·z), z standard normal, ε = 10⁻⁴ by default, a fresh draw per
///   trial, driven through the whole suite in the simulator and judged by the
///   gate. Any rejection is a false one.
/// - **Worse candidates**: another such noisy model's real evaluation, made
///   worse by `--worse-by` collision-free points in one family (the families
///   taken in turn): each of the family's episodes the candidate drives clean
///   is turned into a crash with probability `worse-by / 100 / clean rate`, so
///   in expectation the candidate loses exactly that many points of the
///   family on these episodes — a regression that is real, not a knife edge,
///   on top of the churn the noise brings. Rejections are catches.
@main
struct GateBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate-benchmark",
        abstract: "The gate's false-rejection rate, its power against a real regression, and its seconds per candidate.")

    @Option(help: "Trials of each kind.") var trials = 40
    @Option(help: "Relative weight noise of an equal candidate.") var noise = 1e-4
    @Option(help: "Collision-free points a worse candidate loses in one family (comma separated for a sweep).") var worseBy = "5"
    @Option(help: "The gate's false-rejection rate.") var falseRejectionRate = 0.05
    @Option(help: "Concurrent episodes.") var jobs = 2
    @Option(help: "Seed of the noise and the flips.") var seed: UInt64 = 1

    func run() async throws {
        guard let content = SimulatorContent.locate() else { throw ValidationError("Run from the repository (Simulator/ not found).") }
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let suite = try GoldSuite.load(contentsOf: content.goldSuite, library: library)
        let guardrail = try Guardrail.load(contentsOf: content.guardrailRules)
        let gate = RegressionGate(
            configuration: .init(falseRejectionRate: falseRejectionRate), suite: suite, suiteName: "gold-v\(suite.version)",
            library: library, guardrail: guardrail)
        let base = try BasePolicy.load(from: content)
        let levels = try worseBy.split(separator: ",").map { text -> Double in
            guard let value = Double(text), value > 0, value < 100 else { throw ValidationError("--worse-by '\(text)' is not a number of points in (0, 100)") }
            return value
        }
        let families = suite.families
        print("gold v\(suite.version): \(suite.episodes.count) episodes, \(families.count) families; α = \(falseRejectionRate), each family's test at \(gate.configuration.familyLevel(tests: families.count))")
        let clock = ContinuousClock()
        let current = try await PolicyEvaluation.evaluate(base, suite: suite, library: library, name: "current", guardrail: guardrail, concurrency: jobs)
        print("serving model: \(String(format: "%.1f", current.overall.collisionFreePercent)) % collision-free")

        var falseRejections = 0
        var seconds: [Double] = []
        var churn: [Int] = []
        var caught = [Int](repeating: 0, count: levels.count)
        var lost = [[Double]](repeating: [], count: levels.count)
        for trial in 0..<trials {
            // An equal candidate: the gate's whole decision, timed.
            let equal = try Self.perturbed(base, noise: noise, seed: DrivingSimulator.SeededGenerator.mix(seed, UInt64(2 * trial)))
            let start = clock.now
            let equalReport = try await PolicyEvaluation.evaluate(equal, suite: suite, library: library, name: "candidate", guardrail: guardrail, concurrency: jobs)
            let verdict = gate.decide(current: current, candidate: equalReport)
            seconds.append(Self.seconds(clock.now - start))
            if verdict.verdict == "rejected" { falseRejections += 1 }
            churn.append(verdict.families.reduce(0) { $0 + ($1.newlyCrashed ?? 0) + ($1.newlyClean ?? 0) })

            // A worse candidate: another noisy model, made worse in one family.
            let other = try Self.perturbed(base, noise: noise, seed: DrivingSimulator.SeededGenerator.mix(seed, UInt64(2 * trial + 1)))
            let otherReport = try await PolicyEvaluation.evaluate(other, suite: suite, library: library, name: "candidate", guardrail: guardrail, concurrency: jobs)
            let family = families[trial % families.count]
            for (index, points) in levels.enumerated() {
                var generator = DrivingSimulator.SeededGenerator(seed: DrivingSimulator.SeededGenerator.mix(seed ^ 0x5EED, UInt64(trial * 100 + index)))
                let worse = Self.worsened(otherReport, family: family, points: points, generator: &generator)
                if gate.decide(current: current, candidate: worse).verdict == "rejected" { caught[index] += 1 }
                let before = otherReport.families.first { $0.family == family }!.collisionFreePercent
                let after = worse.families.first { $0.family == family }!.collisionFreePercent
                lost[index].append(before - after)
            }
            print("trial \(trial + 1): equal \(verdict.verdict) (\(churn.last!) episodes flipped, \(String(format: "%.1f", seconds.last!)) s); worse in \(family): \(levels.indices.map { caught[$0] }) caught so far")
        }
        seconds.sort()
        churn.sort()
        print("")
        print("| candidate | trials | rejected | rate |")
        print("| --- | ---: | ---: | ---: |")
        print("| equal (relative weight noise \(noise)) | \(trials) | \(falseRejections) | \(Self.percent(falseRejections, trials)) |")
        for (index, points) in levels.enumerated() {
            let meanLost = lost[index].reduce(0, +) / Double(max(lost[index].count, 1))
            print("| worse by \(points) points in one family (realized mean \(String(format: "%.2f", meanLost))) | \(trials) | \(caught[index]) | \(Self.percent(caught[index], trials)) |")
        }
        print("")
        print("gate seconds per candidate (evaluation + decision, \(suite.episodes.count) episodes, \(jobs) jobs): median \(String(format: "%.2f", seconds[seconds.count / 2])), range \(String(format: "%.2f", seconds.first!))–\(String(format: "%.2f", seconds.last!))")
        print("episodes flipped by the noise, over all families: median \(churn[churn.count / 2]), range \(churn.first!)–\(churn.last!)")
        if let losses = SignTest.smallestRejectedLosses(alpha: gate.configuration.familyLevel(tests: families.count)) {
            let perFamily = suite.episodes.count / max(families.count, 1)
            print("smallest regression caught without churn: \(losses) episodes newly crashing and none newly clean in one family (\(String(format: "%.1f", 100 * Double(losses) / Double(perFamily))) points of \(perFamily))")
        }
    }

    static func perturbed(_ base: MoEPolicy, noise: Double, seed: UInt64) throws -> MoEPolicy {
        var parameters = base.parameterSet()
        var generator = DrivingSimulator.SeededGenerator(seed: seed)
        for name in parameters.names {
            try parameters.withUnsafeMutableBufferPointer(name) { values in
                for i in values.indices { values[i] *= Float(1 + noise * generator.gaussian()) }
            }
        }
        var policy = base
        try policy.load(parameters)
        return policy
    }

    static func worsened(_ report: EvaluationReport, family: String, points: Double, generator: inout DrivingSimulator.SeededGenerator) -> EvaluationReport {
        let score = report.families.first { $0.family == family }!
        let probability = min(points / max(score.collisionFreePercent, 1e-9), 1)
        let episodes = report.episodes.map { episode -> EpisodeOutcome in
            guard episode.family == family, !episode.crashed, generator.unit() < probability else { return episode }
            var crashed = episode
            crashed.collided = true
            return crashed
        }
        return EvaluationReport(driver: report.driver, episodes: episodes)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func percent(_ count: Int, _ total: Int) -> String {
        String(format: "%.1f %%", 100 * Double(count) / Double(max(total, 1)))
    }
}
