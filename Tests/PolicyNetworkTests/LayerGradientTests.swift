import Testing
@testable import PolicyNetwork

/// Every layer's hand-written backward pass against central differences of its forward pass.
@Suite("Layer gradients")
struct LayerGradientTests {
    @Test func linearGradientsMatchFiniteDifferences() {
        var generator = SeededGenerator(seed: 1)
        let layer = Linear(inputs: 5, outputs: 4, initialization: .xavier, generator: &generator)
        var withBias = layer
        withBias.bias = randomTensor([4], seed: 2)
        let x = randomTensor([3, 5], seed: 3)
        let r = randomTensor([3, 4], seed: 4)
        let gradients = withBias.backward(input: x, gradOutput: r)

        let weight = gradientCheck(withBias.weight, analytic: gradients.weight) { w in
            var l = withBias
            l.weight = w
            return weightedSum(l.forward(x), r)
        }
        let bias = gradientCheck(withBias.bias, analytic: gradients.bias) { b in
            var l = withBias
            l.bias = b
            return weightedSum(l.forward(x), r)
        }
        let input = gradientCheck(x, analytic: gradients.input) { weightedSum(withBias.forward($0), r) }
        #expect(weight.worst <= 1, "weight \(weight.detail)")
        #expect(bias.worst <= 1, "bias \(bias.detail)")
        #expect(input.worst <= 1, "input \(input.detail)")
        #expect(weight.checked == 20 && bias.checked == 4 && input.checked == 15)
    }

    @Test(arguments: Activation.allCases)
    func activationGradientsMatchFiniteDifferences(_ activation: Activation) {
        // Keep ReLU inputs away from its kink so a step of 1e-3 never crosses it.
        var x = randomTensor([4, 6], seed: 11, scale: 2)
        if activation == .relu {
            for i in 0..<x.count where abs(x[i]) < 0.05 { x[i] = 0.3 }
        }
        let r = randomTensor([4, 6], seed: 12)
        let analytic = activation.backward(input: x, gradOutput: r)
        let check = gradientCheck(x, analytic: analytic, step: activation == .relu ? 1e-3 : 1e-2) {
            weightedSum(activation.forward($0), r)
        }
        #expect(check.worst <= 1, "\(activation): \(check.detail)")
        #expect(check.checked == 24)
    }

    @Test func geluMatchesTheExactErfForm() {
        for x: Float in stride(from: -6, through: 6, by: 0.37) {
            let exact = 0.5 * Double(x) * (1 + _erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(Activation.gelu(x)) - exact) < 1e-6, "gelu(\(x))")
        }
    }

    @Test func softmaxGradientsMatchFiniteDifferences() {
        let z = randomTensor([3, 5], seed: 21, scale: 3)
        let r = randomTensor([3, 5], seed: 22)
        let p = Softmax.forward(z)
        for row in 0..<3 {
            let sum = (0..<5).reduce(Float(0)) { $0 + p[row, $1] }
            #expect(abs(sum - 1) < 1e-6)
        }
        let analytic = Softmax.backward(output: p, gradOutput: r)
        let check = gradientCheck(z, analytic: analytic) { weightedSum(Softmax.forward($0), r) }
        #expect(check.worst <= 1, "\(check.detail)")
    }

    @Test func layerNormGradientsMatchFiniteDifferences() {
        var norm = LayerNorm(features: 6)
        norm.gamma = randomTensor([6], seed: 31)
        norm.beta = randomTensor([6], seed: 32)
        let x = randomTensor([4, 6], seed: 33, scale: 2)
        let r = randomTensor([4, 6], seed: 34)
        let gradients = norm.backward(input: x, gradOutput: r)
        let input = gradientCheck(x, analytic: gradients.input, step: 5e-3) { weightedSum(norm.forward($0), r) }
        let gamma = gradientCheck(norm.gamma, analytic: gradients.gamma) { g in
            var n = norm
            n.gamma = g
            return weightedSum(n.forward(x), r)
        }
        let beta = gradientCheck(norm.beta, analytic: gradients.beta) { b in
            var n = norm
            n.beta = b
            return weightedSum(n.forward(x), r)
        }
        #expect(input.worst <= 1, "input \(input.detail)")
        #expect(gamma.worst <= 1, "gamma \(gamma.detail)")
        #expect(beta.worst <= 1, "beta \(beta.detail)")
    }

    @Test func crossEntropyGradientMatchesFiniteDifferences() {
        let logits = randomTensor([5, 4], seed: 41, scale: 2)
        let targets = [0, 3, 1, 2, 3]
        let (loss, analytic) = CrossEntropy.loss(logits: logits, targets: targets)
        #expect(loss > 0)
        let check = gradientCheck(logits, analytic: analytic) { Double(CrossEntropy.loss(logits: $0, targets: targets).loss) }
        #expect(check.worst <= 1, "\(check.detail)")
    }

    @Test func crossEntropyOfAConfidentCorrectPredictionIsNearZero() {
        let logits = try! Tensor(shape: [1, 3], scalars: [20, 0, 0])
        #expect(CrossEntropy.loss(logits: logits, targets: [0]).loss < 1e-6)
        #expect(abs(CrossEntropy.loss(logits: logits, targets: [1]).loss - 20) < 1e-3)
    }

    @Test func meanSquaredErrorGradientMatchesFiniteDifferences() {
        let predictions = randomTensor([4, 3], seed: 51)
        let targets = randomTensor([4, 3], seed: 52)
        let (_, analytic) = MeanSquaredError.loss(predictions: predictions, targets: targets)
        let check = gradientCheck(predictions, analytic: analytic) {
            Double(MeanSquaredError.loss(predictions: $0, targets: targets).loss)
        }
        #expect(check.worst <= 1, "\(check.detail)")
    }

    @Test func matmulAgreesWithALoop() throws {
        let a = randomTensor([3, 4], seed: 61), b = randomTensor([5, 4], seed: 62)
        let product = try Tensor.matmul(a, b, transposeB: true)
        #expect(product.shape == [3, 5])
        for i in 0..<3 {
            for j in 0..<5 {
                let expected = (0..<4).reduce(Float(0)) { $0 + a[i, $1] * b[j, $1] }
                #expect(abs(product[i, j] - expected) < 1e-5)
            }
        }
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) { try Tensor.matmul(a, b) }
    }

    @Test func fastExpIsAccurate() {
        for x: Float in stride(from: -80, through: 80, by: 0.731) {
            let exact = _exp(Double(x))
            #expect(abs(Double(FastMath.exp(x)) - exact) / exact < 4e-7, "exp(\(x))")
        }
    }
}
