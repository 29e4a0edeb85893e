import Testing
@testable import PolicyNetwork

/// Training on a task that rewards specialization.
///
/// Four regimes (think: dry road, ice, fog, city). An observation carries a
/// noisy regime signature in its first four features and a situation in the
/// last four; the correct action is the argmax of a regime-specific linear
/// map of the situation, so the same situation needs a different action in
/// each regime. With four experts and load balancing, the cheapest solution is
/// one expert per regime.
@Suite("Convergence")
struct ConvergenceTests {
    static let regimes = 4
    static let actions = 3

    struct Task {
        var maps: [[Float]]  // per regime, [actions × 4]

        init(seed: UInt64) {
            var generator = SeededGenerator(seed: seed)
            maps = (0..<ConvergenceTests.regimes).map { _ in
                (0..<(ConvergenceTests.actions * 4)).map { _ in generator.nextGaussian() }
            }
        }

        func batch(_ size: Int, generator: inout SeededGenerator) -> (Tensor, [Int], [Int]) {
            var x = Tensor(shape: [size, 8])
            var labels: [Int] = []
            var regimesOfRows: [Int] = []
            for row in 0..<size {
                let regime = Int(generator.next() % UInt64(ConvergenceTests.regimes))
                for j in 0..<4 { x[row, j] = (j == regime ? 2 : 0) + 0.1 * generator.nextGaussian() }
                var situation = [Float](repeating: 0, count: 4)
                for j in 0..<4 {
                    situation[j] = generator.nextGaussian()
                    x[row, 4 + j] = situation[j]
                }
                var best = 0
                var bestScore = -Float.infinity
                for a in 0..<ConvergenceTests.actions {
                    var score: Float = 0
                    for j in 0..<4 { score += maps[regime][a * 4 + j] * situation[j] }
                    if score > bestScore {
                        best = a
                        bestScore = score
                    }
                }
                labels.append(best)
                regimesOfRows.append(regime)
            }
            return (x, labels, regimesOfRows)
        }
    }

    @Test(arguments: [1, 2])
    func routerSpecializesOneExpertPerRegime(topK: Int) throws {
        let architecture = try PolicyArchitecture(
            inputs: 8, experts: 4, hidden: 16, topK: topK, actions: Self.actions, activation: .gelu)
        var policy = try MoEPolicy(architecture: architecture, seed: 2024)
        let trainer = MoETrainer(optimizer: Adam(learningRate: 1e-2), auxiliaryLossWeight: 0.05, gradientClipNorm: 5)
        let task = Task(seed: 77)
        var generator = SeededGenerator(seed: 78)
        for _ in 0..<1500 {
            let (x, labels, _) = task.batch(64, generator: &generator)
            try trainer.step(&policy, inputs: x, targets: .actions(labels))
        }

        // Held-out evaluation.
        let (x, labels, regimeOfRow) = task.batch(2_000, generator: &generator)
        let workspace = MoEWorkspace()
        let (logits, _) = try policy.predict(x, workspace: workspace)
        let loss = CrossEntropy.loss(logits: logits, targets: labels).loss
        var counts = Array(repeating: Array(repeating: 0, count: 4), count: Self.regimes)
        // Every routed slot counts: with top-2 a regime's own expert may be first or second.
        for row in 0..<2_000 {
            for slot in 0..<topK { counts[regimeOfRow[row]][Int(workspace.chosenExperts.pointer[row * topK + slot])] += 1 }
        }
        let dominant = counts.map { row in row.indices.max { row[$0] < row[$1] }! }
        let shares = counts.indices.map { Double(counts[$0][dominant[$0]] * topK) / Double(counts[$0].reduce(0, +)) }

        // Every regime goes mostly (≥ 80 % of its samples) to its own expert and the task is
        // learned (the loss starts at ln 3 ≈ 1.10). With k = 1 no two regimes share that expert;
        // with k = 2 every sample also uses a second expert, which may be shared.
        #expect(shares.allSatisfy { $0 >= 0.8 }, "top-\(topK): share of each regime's dominant expert \(shares), routing \(counts)")
        if topK == 1 {
            #expect(Set(dominant).count == Self.regimes, "top-1: dominant experts \(dominant), routing \(counts)")
        }
        #expect(loss < 0.25, "top-\(topK): held-out cross-entropy \(loss)")
    }
}
