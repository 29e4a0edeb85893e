import Testing
@testable import PolicyNetwork

/// The whole mixture of experts — experts, renormalized top-k gates, router
/// softmax and the load-balancing loss — against central differences.
@Suite("Mixture-of-experts gradients")
struct MoEGradientTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var topK: Int
        var activation: Activation
        var auxiliaryWeight: Float
        var testDescription: String { "top-\(topK) \(activation) α=\(auxiliaryWeight)" }
    }

    static let cases = [
        Case(topK: 2, activation: .gelu, auxiliaryWeight: 0),
        Case(topK: 2, activation: .tanh, auxiliaryWeight: 0.5),
        Case(topK: 1, activation: .gelu, auxiliaryWeight: 0.5),
        Case(topK: 3, activation: .tanh, auxiliaryWeight: 0.2),
    ]

    /// Total loss (cross-entropy + α·aux) and the routing it used, so a perturbation
    /// that flips a top-k choice (where the loss is not differentiable) can be skipped.
    static func loss(_ policy: MoEPolicy, _ x: Tensor, _ labels: [Int], _ alpha: Float) -> (Double, [Int32]) {
        let ws = MoEWorkspace()
        let batch = x.shape[0]
        let routing = x.withUnsafeBufferPointer { policy.forward($0.baseAddress!, batch: batch, workspace: ws) }
        let ce = labels.withUnsafeBufferPointer {
            CrossEntropy.compute(
                ws.output.pointer, $0.baseAddress!, ws.gradOutput.pointer, rows: batch, columns: policy.architecture.actions)
        }
        let chosen = Array(UnsafeBufferPointer(start: ws.chosenExperts.pointer, count: batch * policy.architecture.topK))
        return (Double(ce) + Double(alpha) * Double(MoEPolicy.loadBalancingLoss(routing)), chosen)
    }

    @Test(arguments: cases)
    func fullPolicyGradientsMatchFiniteDifferences(_ testCase: Case) throws {
        let architecture = try PolicyArchitecture(
            inputs: 5, experts: 4, hidden: 6, topK: testCase.topK, actions: 3, activation: testCase.activation)
        var policy = try MoEPolicy(architecture: architecture, seed: 99)
        // A router with real preferences, so gates differ from 1/k.
        policy.router.weight = randomTensor([4, 5], seed: 100, scale: 1.5)
        policy.router.bias = randomTensor([4], seed: 101, scale: 0.5)
        for e in 0..<4 {
            policy.experts[e].fc1.bias = randomTensor([6], seed: 200 + UInt64(e), scale: 0.3)
            policy.experts[e].fc2.bias = randomTensor([3], seed: 300 + UInt64(e), scale: 0.3)
        }
        let x = randomTensor([12, 5], seed: 102, scale: 1.5)
        let labels = (0..<12).map { $0 % 3 }
        let trainer = MoETrainer(auxiliaryLossWeight: testCase.auxiliaryWeight)
        try trainer.computeGradients(policy, inputs: x, targets: .actions(labels))
        let gradients = try #require(trainer.lastGradients)
        let (_, baseRouting) = Self.loss(policy, x, labels, testCase.auxiliaryWeight)
        let alpha = testCase.auxiliaryWeight

        func check(_ name: String, _ tensor: Tensor, _ analytic: Tensor, _ set: @escaping (inout MoEPolicy, Tensor) -> Void) {
            let result = gradientCheck(tensor, analytic: analytic, step: 5e-3, samples: 16) { perturbed in
                var p = policy
                set(&p, perturbed)
                let (value, routing) = Self.loss(p, x, labels, alpha)
                return routing == baseRouting ? value : nil
            }
            #expect(result.worst <= 1, "\(name): \(result.detail)")
            #expect(result.checked >= min(tensor.count, 16) / 2, "\(name): only \(result.checked) coordinates kept their routing")
        }
        check("router.weight", policy.router.weight, gradients.router.weight) { $0.router.weight = $1 }
        check("router.bias", policy.router.bias, gradients.router.bias) { $0.router.bias = $1 }
        for e in 0..<4 {
            check("experts.\(e).fc1.weight", policy.experts[e].fc1.weight, gradients.experts[e].fc1.weight) { $0.experts[e].fc1.weight = $1 }
            check("experts.\(e).fc1.bias", policy.experts[e].fc1.bias, gradients.experts[e].fc1.bias) { $0.experts[e].fc1.bias = $1 }
            check("experts.\(e).fc2.weight", policy.experts[e].fc2.weight, gradients.experts[e].fc2.weight) { $0.experts[e].fc2.weight = $1 }
            check("experts.\(e).fc2.bias", policy.experts[e].fc2.bias, gradients.experts[e].fc2.bias) { $0.experts[e].fc2.bias = $1 }
        }
        // The router really receives gradient from the task loss, not only from the aux term.
        #expect(gradients.router.weight.squaredNorm > 1e-8)
    }

    @Test func meanSquaredErrorTargetsBackpropagateToo() throws {
        let architecture = try PolicyArchitecture(inputs: 4, experts: 3, hidden: 5, topK: 2, actions: 2, activation: .tanh)
        let policy = try MoEPolicy(architecture: architecture, seed: 5)
        let x = randomTensor([6, 4], seed: 6)
        let y = randomTensor([6, 2], seed: 7)
        let trainer = MoETrainer(auxiliaryLossWeight: 0)
        try trainer.computeGradients(policy, inputs: x, targets: .values(y))
        let gradients = try #require(trainer.lastGradients)
        let ws = MoEWorkspace()
        let result = gradientCheck(policy.router.weight, analytic: gradients.router.weight, step: 5e-3) { w in
            var p = policy
            p.router.weight = w
            let (logits, _) = try! p.predict(x, workspace: ws)
            return Double(MeanSquaredError.loss(predictions: logits, targets: y).loss)
        }
        #expect(result.worst <= 1, "\(result.detail)")
    }

    @Test func frozenPartsReceiveNoGradient() throws {
        let architecture = try PolicyArchitecture(inputs: 4, experts: 3, hidden: 5, topK: 2, actions: 2, activation: .gelu)
        var policy = try MoEPolicy(architecture: architecture, seed: 8)
        try policy.trainOnly(experts: [1], router: false)
        let trainer = MoETrainer()
        try trainer.computeGradients(policy, inputs: randomTensor([16, 4], seed: 9), targets: .actions(Array(repeating: 1, count: 16)))
        let gradients = try #require(trainer.lastGradients)
        #expect(gradients.router.weight.squaredNorm == 0)
        #expect(gradients.experts[0].fc1.weight.squaredNorm == 0)
        #expect(gradients.experts[2].fc2.weight.squaredNorm == 0)
        #expect(gradients.experts[1].fc1.weight.squaredNorm > 0)
    }
}
