import Testing
@testable import PolicyNetwork

/// Adding, removing and pruning experts, and freezing parts of the policy,
/// leave everything they do not target bit-identical.
@Suite("Dynamic allocation, pruning and freezing")
struct AllocationTests {
    static let architecture = try! PolicyArchitecture(inputs: 6, experts: 4, hidden: 8, topK: 2, actions: 3, activation: .relu)

    static func trainingBatch(seed: UInt64) -> (Tensor, [Int]) {
        (randomTensor([32, 6], seed: seed), (0..<32).map { ($0 * 7 + Int(seed)) % 3 })
    }

    @Test func sameSeedGivesBitIdenticalWeights() throws {
        let a = try MoEPolicy(architecture: Self.architecture, seed: 42)
        let b = try MoEPolicy(architecture: Self.architecture, seed: 42)
        let c = try MoEPolicy(architecture: Self.architecture, seed: 43)
        #expect(a.parameterSet().isBitIdentical(to: b.parameterSet()))
        #expect(!a.parameterSet().isBitIdentical(to: c.parameterSet()))
    }

    @Test func addingAFreshExpertKeepsEverythingElse() throws {
        let before = try MoEPolicy(architecture: Self.architecture, seed: 1)
        var after = before
        let index = after.addExpert(seed: 9)
        #expect(index == 4)
        #expect(after.architecture.experts == 5)
        #expect(after.router.weight.shape == [5, 6])
        for e in 0..<4 { #expect(after.experts[e] == before.experts[e]) }
        let rows = before.router.weight.count
        #expect(Array(after.router.weight.scalars.prefix(rows)).elementsEqual(before.router.weight.scalars) { $0.bitPattern == $1.bitPattern })
        #expect(Array(after.router.bias.scalars.prefix(4)) == before.router.bias.scalars)
        #expect(after.experts[4] != after.experts[0])
        // The new policy still runs.
        let trainer = MoETrainer()
        let (x, y) = Self.trainingBatch(seed: 3)
        let result = try trainer.step(&after, inputs: x, targets: .actions(y))
        #expect(result.routing.samplesPerExpert.count == 5)
    }

    @Test func cloningCopiesTheSourceWithASmallSeededPerturbation() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let original = policy
        let index = try policy.addExpert(cloning: 2, perturbation: 0.01, seed: 5)
        let clone = policy.experts[index], source = policy.experts[2]
        #expect(clone != source)
        let difference = clone.fc1.weight.scalars.indices.map { abs(clone.fc1.weight[$0] - source.fc1.weight[$0]) }.max()!
        #expect(difference > 0 && difference < 0.1)
        for e in 0..<4 { #expect(policy.experts[e] == original.experts[e]) }
        // Router row copied: the clone competes for the same scenes.
        for i in 0..<6 { #expect(policy.router.weight[index, i] == policy.router.weight[2, i]) }
        var again = original
        try again.addExpert(cloning: 2, perturbation: 0.01, seed: 5)
        #expect(again.parameterSet().isBitIdentical(to: policy.parameterSet()))
        #expect(throws: PolicyNetworkError(.invalidExpert, "")) { try again.addExpert(cloning: 9, seed: 1) }
    }

    @Test func removingAnExpertShiftsTheRestUnchanged() throws {
        let before = try MoEPolicy(architecture: Self.architecture, seed: 1)
        var after = before
        try after.removeExpert(at: 1)
        #expect(after.architecture.experts == 3)
        #expect(after.experts == [before.experts[0], before.experts[2], before.experts[3]])
        let beforeSet = before.parameterSet(), afterSet = after.parameterSet()
        for (old, new) in [(0, 0), (2, 1), (3, 2)] {
            for suffix in ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] {
                #expect(afterSet["experts.\(new).\(suffix)"]!.isBitIdentical(to: beforeSet["experts.\(old).\(suffix)"]!))
            }
            for i in 0..<6 { #expect(after.router.weight[new, i].bitPattern == before.router.weight[old, i].bitPattern) }
            #expect(after.router.bias[new].bitPattern == before.router.bias[old].bitPattern)
        }
        try after.removeExpert(at: 0)
        #expect(throws: PolicyNetworkError(.invalidExpert, "")) { try after.removeExpert(at: 0) }  // top-2 needs two
        #expect(throws: PolicyNetworkError(.invalidExpert, "")) { try after.removeExpert(at: 7) }
    }

    @Test func pruningZeroesTheSmallestWeightsAndTrainingRespectsTheMask() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let before = policy
        let mask = try policy.prune(expert: 1, fraction: 0.5)
        let total = mask.fc1.count + mask.fc2.count
        #expect(abs(mask.prunedFraction - 0.5) < 1.0 / Double(total))
        // The kept weights are exactly the largest ones, unchanged.
        var kept: [Float] = [], removed: [Float] = []
        for i in 0..<mask.fc1.count {
            if mask.fc1[i] == 1 {
                #expect(policy.experts[1].fc1.weight[i] == before.experts[1].fc1.weight[i])
                kept.append(abs(before.experts[1].fc1.weight[i]))
            } else {
                #expect(policy.experts[1].fc1.weight[i].bitPattern == 0)
                removed.append(abs(before.experts[1].fc1.weight[i]))
            }
        }
        #expect(removed.max()! <= kept.min()!)
        // Other experts untouched.
        for e in [0, 2, 3] { #expect(policy.experts[e] == before.experts[e]) }

        for optimizer in [any Optimizer](arrayLiteral: Adam(learningRate: 0.05), SGD(learningRate: 0.1, momentum: 0.9)) {
            let trainer = MoETrainer(optimizer: optimizer)
            var trained = policy
            for s in 0..<20 {
                let (x, y) = Self.trainingBatch(seed: UInt64(s))
                try trainer.step(&trained, inputs: x, targets: .actions(y))
            }
            #expect(trained.experts[1] != policy.experts[1], "the pruned expert still trains")
            for i in 0..<mask.fc1.count where mask.fc1[i] == 0 { #expect(trained.experts[1].fc1.weight[i].bitPattern == 0) }
            for i in 0..<mask.fc2.count where mask.fc2[i] == 0 { #expect(trained.experts[1].fc2.weight[i].bitPattern == 0) }
        }
        #expect(throws: PolicyNetworkError(.invalidArgument, "")) { try policy.prune(expert: 0, fraction: 1.5) }
    }

    @Test func masksTravelWithTheirExpertWhenAnotherIsRemoved() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let mask = try policy.prune(expert: 3, fraction: 0.3)
        try policy.removeExpert(at: 0)
        #expect(policy.masks[2] == mask)
        #expect(policy.masks[0] == nil && policy.masks[1] == nil)
    }

    @Test func frozenPartsStayBitIdenticalThroughOptimizerSteps() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        try policy.trainOnly(experts: [0, 2], router: false)
        let before = policy
        for optimizer in [any Optimizer](arrayLiteral: Adam(learningRate: 0.05), SGD(learningRate: 0.1)) {
            var trained = policy
            let trainer = MoETrainer(optimizer: optimizer, gradientClipNorm: 1)
            for s in 0..<10 {
                let (x, y) = Self.trainingBatch(seed: UInt64(s))
                try trainer.step(&trained, inputs: x, targets: .actions(y))
            }
            #expect(trained.router == before.router)
            #expect(trained.router.weight.isBitIdentical(to: before.router.weight))
            for e in [1, 3] {
                #expect(trained.experts[e].fc1.weight.isBitIdentical(to: before.experts[e].fc1.weight))
                #expect(trained.experts[e].fc2.bias.isBitIdentical(to: before.experts[e].fc2.bias))
            }
            #expect(trained.experts[0] != before.experts[0])
            #expect(trained.experts[2] != before.experts[2])
        }
        // And the router alone.
        var routerOnly = policy
        try routerOnly.trainOnly(experts: [], router: true)
        let trainer = MoETrainer(optimizer: Adam(learningRate: 0.05))
        let (x, y) = Self.trainingBatch(seed: 1)
        try trainer.step(&routerOnly, inputs: x, targets: .actions(y))
        #expect(routerOnly.router != policy.router)
        #expect(routerOnly.experts == policy.experts)
    }

    @Test func gradientClippingBoundsTheGlobalNorm() throws {
        let policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let trainer = MoETrainer()
        let (x, y) = Self.trainingBatch(seed: 2)
        try trainer.computeGradients(policy, inputs: x, targets: .actions(y))
        var gradients = try #require(trainer.lastGradients)
        let norm = GradientClipping.clipByGlobalNorm(&gradients, maxNorm: 0.01, policy: policy)
        #expect(norm > 0.01)
        #expect(abs(gradients.parameterSet().globalNorm - 0.01) < 1e-5)
        let unchanged = GradientClipping.clipByGlobalNorm(&gradients, maxNorm: 1, policy: policy)
        #expect(abs(Double(unchanged) - 0.01) < 1e-5)
    }

    @Test func trainingReducesTheLossWithEitherOptimizer() throws {
        for optimizer in [any Optimizer](arrayLiteral: Adam(learningRate: 0.01), SGD(learningRate: 0.1, momentum: 0.9)) {
            var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
            let trainer = MoETrainer(optimizer: optimizer)
            let (x, y) = Self.trainingBatch(seed: 4)
            let first = try trainer.step(&policy, inputs: x, targets: .actions(y)).loss
            var last = first
            for _ in 0..<100 { last = try trainer.step(&policy, inputs: x, targets: .actions(y)).loss }
            #expect(last < first * 0.5, "\(type(of: optimizer)): \(first) → \(last)")
        }
    }

    @Test func routingStatisticsCountEverySample() throws {
        let policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let (_, routing) = try policy.predict(randomTensor([50, 6], seed: 1), workspace: MoEWorkspace())
        #expect(routing.batchSize == 50)
        #expect(routing.samplesPerExpert.reduce(0, +) == 100)
        #expect(routing.topChoicePerExpert.reduce(0, +) == 50)
        #expect(abs(routing.meanProbability.reduce(0, +) - 1) < 1e-5)

        var total = RoutingStatistics(experts: 4)
        try total.accumulate(routing)
        try total.accumulate(routing)
        #expect(total.batchSize == 100)
        #expect(total.samplesPerExpert == routing.samplesPerExpert.map { $0 * 2 })
        for e in 0..<4 { #expect(abs(total.meanProbability[e] - routing.meanProbability[e]) < 1e-6) }
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) { try total.accumulate(RoutingStatistics(experts: 3)) }
    }

    @Test func routingAloneEqualsTheRoutingOfAFullPass() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 5)
        try policy.trainOnly(experts: [1], router: false)
        let x = randomTensor([50, 6], seed: 8)
        let full = try policy.predict(x, workspace: MoEWorkspace()).routing
        let workspace = MoEWorkspace()
        let alone = try x.withUnsafeBufferPointer { rows in try policy.routing(of: rows, workspace: workspace) }
        #expect(alone == full)
        // A workspace that only routed can still run a full pass.
        #expect(try policy.predict(x, workspace: workspace).routing == full)
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) {
            try [Float](repeating: 0, count: 7).withUnsafeBufferPointer { rows in try policy.routing(of: rows, workspace: workspace) }
        }
    }

    @Test func predictingGivesTheTrainingPassLogitsBitForBit() throws {
        let architecture = try PolicyArchitecture(inputs: 6, experts: 4, hidden: 16, topK: 2, actions: 3, activation: .gelu)
        var policy = try MoEPolicy(architecture: architecture, seed: 6)
        try policy.trainOnly(experts: [0, 2], router: false)
        let x = randomTensor([40, 6], seed: 9)
        let training = MoEWorkspace()
        _ = x.withUnsafeBufferPointer { policy.forward($0.baseAddress!, batch: 40, workspace: training) }
        let predicted = try policy.predict(x, workspace: MoEWorkspace()).logits
        #expect(predicted.isBitIdentical(to: training.outputTensor()))
    }

    @Test func badInputsAreRejectedWithoutChangingThePolicy() throws {
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let before = policy
        let trainer = MoETrainer()
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) {
            try trainer.step(&policy, inputs: randomTensor([4, 5], seed: 1), targets: .actions([0, 1, 2, 0]))
        }
        #expect(throws: PolicyNetworkError(.invalidArgument, "")) {
            try trainer.step(&policy, inputs: randomTensor([2, 6], seed: 1), targets: .actions([0, 3]))
        }
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) {
            try trainer.step(&policy, inputs: randomTensor([2, 6], seed: 1), targets: .actions([0]))
        }
        #expect(policy == before)
    }
}
