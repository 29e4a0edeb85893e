public import DrivingSimulator
import Foundation

/// Two evaluations of the same episodes compared episode by episode, per family.
///
/// Both models drive the very same episodes, so the only episodes that carry
/// evidence about which model is better are the ones where they differ: `b`
/// the candidate newly crashes in, `c` it newly drives clean. If the
/// candidate is in truth no worse, each such discordant episode is at least
/// as likely to go its way as against it, and `b` is at most a
/// Binomial(b + c, ½) draw (McNemar's exact test, one-sided). The p-value is
/// the chance of `b` or more losses among the `b + c` discordant episodes
/// under that null; a family is a regression when it is at most the family's
/// share of the false-rejection rate.
public struct PairedFamilyTest: Sendable, Equatable {
    public var family: String
    /// Episodes both reports drove (matched by id).
    public var episodes: Int
    /// Episodes the candidate crashes in and the reference drove clean.
    public var newlyCrashed: Int
    /// Episodes the reference crashed in and the candidate drives clean.
    public var newlyClean: Int

    public init(family: String, episodes: Int, newlyCrashed: Int, newlyClean: Int) {
        self.family = family
        self.episodes = episodes
        self.newlyCrashed = newlyCrashed
        self.newlyClean = newlyClean
    }

    /// Episodes both reports ended alike (both clean or both crashed).
    public var concordant: Int = 0
    /// Guardrail interventions over the concordant episodes, in the reference and in the candidate.
    public var referenceInterventions: Int = 0
    public var candidateInterventions: Int = 0

    /// Mean interventions per concordant episode, reference and candidate (0 with none).
    ///
    /// An episode one model drives clean and the other crashes in early lasts
    /// longer in one of them and gathers more interventions for that alone;
    /// only episodes both ended alike compare the guardrail's work like with like.
    public var interventionsPerEpisode: (reference: Double, candidate: Double) {
        guard concordant > 0 else { return (0, 0) }
        return (Double(referenceInterventions) / Double(concordant), Double(candidateInterventions) / Double(concordant))
    }

    /// P(X ≥ newlyCrashed) for X ~ Binomial(newlyCrashed + newlyClean, ½): 1 when the candidate lost nothing net.
    public var pValue: Double { SignTest.upperTail(newlyCrashed, of: newlyCrashed + newlyClean) }

    /// Collision-free points the candidate lost net (negative: gained).
    public var pointsLost: Double {
        episodes == 0 ? 0 : 100 * Double(newlyCrashed - newlyClean) / Double(episodes)
    }

    /// Per family, the paired outcomes of `candidate` against `reference`; families in only one report are left out.
    public static func byFamily(reference: EvaluationReport, candidate: EvaluationReport) -> [String: PairedFamilyTest] {
        var before: [String: EpisodeOutcome] = [:]
        for episode in reference.episodes where before[episode.id] == nil { before[episode.id] = episode }
        var tests: [String: PairedFamilyTest] = [:]
        for episode in candidate.episodes {
            guard let was = before[episode.id] else { continue }
            var test = tests[episode.family] ?? PairedFamilyTest(family: episode.family, episodes: 0, newlyCrashed: 0, newlyClean: 0)
            test.episodes += 1
            if episode.crashed && !was.crashed { test.newlyCrashed += 1 }
            if !episode.crashed && was.crashed { test.newlyClean += 1 }
            if episode.crashed == was.crashed {
                test.concordant += 1
                test.referenceInterventions += was.interventions
                test.candidateInterventions += episode.interventions
            }
            tests[episode.family] = test
        }
        return tests
    }
}

/// The exact one-sided sign test.
public enum SignTest {
    /// P(X ≥ k) for X ~ Binomial(n, ½); 1 for k ≤ 0, 0 for k > n.
    public static func upperTail(_ k: Int, of n: Int) -> Double {
        guard n > 0, k > 0 else { return 1 }
        guard k <= n else { return 0 }
        // Σ_{j ≥ k} C(n, j) / 2ⁿ, each term from the previous one: C(n, j+1) = C(n, j)·(n − j)/(j + 1), in logarithms.
        var logTerm = logChoose(n, k) - Double(n) * log(2.0)
        var sum = 0.0
        for j in k...n {
            sum += exp(logTerm)
            logTerm += log(Double(n - j)) - log(Double(j + 1))
        }
        return min(sum, 1)
    }

    /// ln C(n, k), summed (n is a family's episode count, a few thousand at most).
    static func logChoose(_ n: Int, _ k: Int) -> Double {
        let k = min(k, n - k)
        guard k > 0 else { return 0 }
        var value = 0.0
        for i in 0..<k { value += log(Double(n - i)) - log(Double(i + 1)) }
        return value
    }

    /// The fewest losses with no gains that a test at level `alpha` rejects: the smallest b with ½^b ≤ alpha.
    public static func smallestRejectedLosses(alpha: Double) -> Int? {
        guard alpha > 0, alpha < 1 else { return nil }
        return Int((log(1 / alpha) / log(2)).rounded(.up))
    }
}
