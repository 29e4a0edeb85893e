/// The batched forward and backward passes of the mixture of experts.
///
/// Forward: router logits by one sgemm, softmax, top-k per sample, then the
/// samples are sorted by expert (a counting sort) and gathered into contiguous
/// rows so that each expert is two sgemms over exactly its samples; outputs are
/// scattered back, weighted by the gates.
///
/// Backward (given dL/dy in the workspace):
/// - expert e, row r of sample b with gate g: dY_r = g · dy_b;
///   dW2 = dYᵀ A, db2 = Σ dY, dA = dY W2, dH = dA ⊙ f'(H), dW1 = dHᵀ X_e, db1 = Σ dH.
/// - gate: dg_r = ⟨dy_b, Y_r⟩; through the renormalization g_i = p_i / S,
///   dp_i = (dg_i − Σ_j g_j dg_j) / S for the chosen i (dp_i = dg_i when k = 1).
/// - load balancing: aux = α·E·Σ_e f_e·P̄_e with f_e the fraction of routed
///   slots expert e got (not differentiable) and P̄_e the mean router
///   probability, so d aux / d p_{b,e} = α·E·f_e / B.
/// - softmax backward to the logits, then dW_r = dZᵀ X, db_r = Σ dZ.
extension MoEPolicy {
    /// What a forward pass is for, and so what it keeps.
    enum ForwardPurpose {
        /// A backward pass follows: the activation derivatives of the
        /// trainable experts are kept for it.
        case training
        /// Only the outputs are wanted: no derivative is computed.
        case inference
    }

    /// Runs `batch` rows of `x` (`[batch, inputs]`) through the policy; the
    /// outputs land in `workspace.output`.
    func forward(
        _ x: UnsafePointer<Float>, batch: Int, workspace ws: MoEWorkspace, purpose: ForwardPurpose = .training
    ) -> RoutingStatistics {
        ws.prepare(for: architecture, batch: batch)
        routeRows(x, batch: batch, workspace: ws)
        let inputs = architecture.inputs, hidden = architecture.hidden, actions = architecture.actions
        let expertCount = experts.count, k = architecture.topK
        let chosen = ws.chosenExperts.pointer, gates = ws.gates.pointer
        let offset = ws.expertOffset.pointer, cursor = ws.cursor.pointer
        for e in 0..<expertCount { cursor[e] = offset[e] }
        let rowSample = ws.rowSample.pointer, rowSlot = ws.rowSlot.pointer, rowGate = ws.rowGate.pointer
        let gathered = ws.gathered.pointer
        for b in 0..<batch {
            for slot in 0..<k {
                let e = Int(chosen[b * k + slot])
                let r = cursor[e]
                cursor[e] = r + 1
                rowSample[r] = Int32(b)
                rowSlot[r] = Int32(b * k + slot)
                rowGate[r] = gates[b * k + slot]
                (gathered + r * inputs).update(from: x + b * inputs, count: inputs)
            }
        }

        // Experts. Each product starts from its bias rows (beta = 1), which is
        // the same sum as adding the bias afterwards and saves a pass over the rows.
        let output = ws.output.pointer
        output.update(repeating: 0, count: batch * actions)
        let pre = ws.preActivation.pointer, act = ws.activation.pointer, expertOutput = ws.expertOutput.pointer
        let derivative = ws.activationDerivative.pointer
        for e in 0..<expertCount {
            let r0 = offset[e], n = offset[e + 1] - r0
            guard n > 0 else { continue }
            let expert = experts[e]
            expert.fc1.bias.withUnsafeBufferPointer { b1 in
                Kernels.fillRows(pre + r0 * hidden, with: b1.baseAddress!, rows: n, columns: hidden)
            }
            expert.fc1.weight.withUnsafeBufferPointer { w1 in
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: n, n: hidden, k: inputs,
                    a: gathered + r0 * inputs, lda: inputs, b: w1.baseAddress!, ldb: inputs,
                    beta: 1, c: pre + r0 * hidden, ldc: hidden)
            }
            if purpose == .training && expertIsTrainable[e] {
                architecture.activation.applyWithDerivative(
                    pre + r0 * hidden, act + r0 * hidden, derivative + r0 * hidden, count: n * hidden)
            } else {
                architecture.activation.apply(pre + r0 * hidden, act + r0 * hidden, count: n * hidden)
            }
            expert.fc2.bias.withUnsafeBufferPointer { b2 in
                Kernels.fillRows(expertOutput + r0 * actions, with: b2.baseAddress!, rows: n, columns: actions)
            }
            expert.fc2.weight.withUnsafeBufferPointer { w2 in
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: n, n: actions, k: hidden,
                    a: act + r0 * hidden, lda: hidden, b: w2.baseAddress!, ldb: hidden,
                    beta: 1, c: expertOutput + r0 * actions, ldc: actions)
            }
            for r in r0..<(r0 + n) {
                let y = expertOutput + r * actions
                let out = output + Int(rowSample[r]) * actions
                let g = rowGate[r]
                for j in 0..<actions { out[j] += g * y[j] }
            }
        }
        return routingStatistics(workspace: ws)
    }

    /// Routes `batch` rows of `x` without running any expert: router logits,
    /// probabilities, the top-k choice and its gates, and the rows per expert.
    ///
    /// Which experts a node trains depends only on this, and it costs a
    /// fraction of a full forward pass (one `[batch, inputs] × [inputs, E]`
    /// product instead of k expert MLPs per row).
    func route(_ x: UnsafePointer<Float>, batch: Int, workspace ws: MoEWorkspace) -> RoutingStatistics {
        ws.prepareRouting(for: architecture, batch: batch)
        routeRows(x, batch: batch, workspace: ws)
        return routingStatistics(workspace: ws)
    }

    /// The router half of a forward pass, shared by ``forward(_:batch:workspace:purpose:)``
    /// and ``route(_:batch:workspace:)`` so both route bit-identically.
    /// Leaves `expertOffset[e] ..< expertOffset[e+1]` as expert e's rows.
    private func routeRows(_ x: UnsafePointer<Float>, batch: Int, workspace ws: MoEWorkspace) {
        let inputs = architecture.inputs
        let expertCount = experts.count, k = architecture.topK
        let logits = ws.logits.pointer, probabilities = ws.probabilities.pointer

        router.bias.withUnsafeBufferPointer { bias in
            Kernels.fillRows(logits, with: bias.baseAddress!, rows: batch, columns: expertCount)
        }
        router.weight.withUnsafeBufferPointer { w in
            BLAS.gemm(
                transposeA: false, transposeB: true, m: batch, n: expertCount, k: inputs,
                a: x, lda: inputs, b: w.baseAddress!, ldb: inputs, beta: 1, c: logits, ldc: expertCount)
        }
        Softmax.rows(logits, probabilities, rows: batch, columns: expertCount)

        // Top-k and the counts of the counting sort by expert.
        let chosen = ws.chosenExperts.pointer, gates = ws.gates.pointer, normalizer = ws.gateNormalizer.pointer
        let offset = ws.expertOffset.pointer
        offset.update(repeating: 0, count: expertCount + 1)
        for b in 0..<batch {
            let p = probabilities + b * expertCount
            var sum: Float = 0
            for slot in 0..<k {
                var best = -1
                var bestProbability = -Float.infinity
                for e in 0..<expertCount where p[e] > bestProbability {
                    var taken = false
                    for previous in 0..<slot where Int(chosen[b * k + previous]) == e { taken = true }
                    if !taken {
                        best = e
                        bestProbability = p[e]
                    }
                }
                if best < 0 {  // only when probabilities are NaN: take the first free expert
                    best = (0..<expertCount).first { e in !(0..<slot).contains { Int(chosen[b * k + $0]) == e } }!
                    bestProbability = p[best]
                }
                chosen[b * k + slot] = Int32(best)
                offset[best + 1] += 1
                sum += bestProbability
            }
            normalizer[b] = sum
            for slot in 0..<k {
                let probability = p[Int(chosen[b * k + slot])]
                gates[b * k + slot] = k == 1 ? probability : probability / sum
            }
        }
        for e in 0..<expertCount { offset[e + 1] += offset[e] }
    }

    /// Counts and mean probabilities of the last forward pass.
    func routingStatistics(workspace ws: MoEWorkspace) -> RoutingStatistics {
        let expertCount = experts.count, k = architecture.topK, batch = ws.batch
        var samples = [Int](repeating: 0, count: expertCount)
        var first = [Int](repeating: 0, count: expertCount)
        var meanProbability = [Float](repeating: 0, count: expertCount)
        for e in 0..<expertCount { samples[e] = ws.expertOffset.pointer[e + 1] - ws.expertOffset.pointer[e] }
        for b in 0..<batch {
            first[Int(ws.chosenExperts.pointer[b * k])] += 1
            for e in 0..<expertCount { meanProbability[e] += ws.probabilities.pointer[b * expertCount + e] }
        }
        if batch > 0 {
            for e in 0..<expertCount { meanProbability[e] /= Float(batch) }
        }
        return RoutingStatistics(
            batchSize: batch, samplesPerExpert: samples, topChoicePerExpert: first, meanProbability: meanProbability)
    }

    /// The Switch-Transformer load-balancing loss E · Σ_e f_e · P̄_e (1 when perfectly balanced).
    static func loadBalancingLoss(_ routing: RoutingStatistics) -> Float {
        let fractions = routing.loadFraction
        var sum: Float = 0
        for e in fractions.indices { sum += fractions[e] * routing.meanProbability[e] }
        return Float(fractions.count) * sum
    }

    /// Backpropagates `workspace.gradOutput` (dL/dy of the last forward pass)
    /// plus `auxiliaryWeight` × the load-balancing loss into `gradients`.
    /// Frozen parts get zero gradient and cost nothing.
    func backward(
        _ x: UnsafePointer<Float>, workspace ws: MoEWorkspace, auxiliaryWeight: Float,
        routing: RoutingStatistics, into gradients: inout MoEGradients
    ) {
        let inputs = architecture.inputs, hidden = architecture.hidden, actions = architecture.actions
        let expertCount = experts.count, k = architecture.topK, batch = ws.batch
        let offset = ws.expertOffset.pointer, rowSample = ws.rowSample.pointer, rowSlot = ws.rowSlot.pointer
        let rowGate = ws.rowGate.pointer, gradOutput = ws.gradOutput.pointer, expertOutput = ws.expertOutput.pointer
        let gradExpertOutput = ws.gradExpertOutput.pointer, gradGates = ws.gradGates.pointer
        let gradHidden = ws.gradHidden.pointer, act = ws.activation.pointer
        let derivative = ws.activationDerivative.pointer
        let gathered = ws.gathered.pointer
        let trainRouter = isRouterTrainable

        for e in 0..<expertCount {
            let r0 = offset[e], n = offset[e + 1] - r0
            let trainExpert = expertIsTrainable[e]
            for r in r0..<(r0 + n) {
                let dy = gradOutput + Int(rowSample[r]) * actions
                if trainRouter {
                    gradGates[Int(rowSlot[r])] = Kernels.dot(dy, expertOutput + r * actions, count: actions)
                }
                if trainExpert {
                    let g = rowGate[r]
                    let target = gradExpertOutput + r * actions
                    for j in 0..<actions { target[j] = g * dy[j] }
                }
            }
            guard trainExpert, n > 0 else {
                gradients.zeroExpert(e)
                continue
            }
            gradients.willWriteExpert(e)
            let dY = gradExpertOutput + r0 * actions, dH = gradHidden + r0 * hidden
            experts[e].fc2.weight.withUnsafeBufferPointer { w2 in
                gradients.experts[e].fc2.weight.withUnsafeMutableBufferPointer { gw2 in
                    BLAS.gemm(
                        transposeA: true, transposeB: false, m: actions, n: hidden, k: n,
                        a: dY, lda: actions, b: act + r0 * hidden, ldb: hidden,
                        beta: 0, c: gw2.baseAddress!, ldc: hidden)
                }
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: n, n: hidden, k: actions,
                    a: dY, lda: actions, b: w2.baseAddress!, ldb: hidden, beta: 0, c: dH, ldc: hidden)
            }
            gradients.experts[e].fc2.bias.withUnsafeMutableBufferPointer { gb2 in
                Kernels.columnSums(dY, rows: n, columns: actions, into: gb2.baseAddress!)
            }
            Kernels.multiply(dH, by: derivative + r0 * hidden, count: n * hidden)
            gradients.experts[e].fc1.weight.withUnsafeMutableBufferPointer { gw1 in
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: hidden, n: inputs, k: n,
                    a: dH, lda: hidden, b: gathered + r0 * inputs, ldb: inputs,
                    beta: 0, c: gw1.baseAddress!, ldc: inputs)
            }
            gradients.experts[e].fc1.bias.withUnsafeMutableBufferPointer { gb1 in
                Kernels.columnSums(dH, rows: n, columns: hidden, into: gb1.baseAddress!)
            }
        }

        guard trainRouter else {
            gradients.zeroRouter()
            return
        }
        gradients.willWriteRouter()
        let probabilities = ws.probabilities.pointer, gates = ws.gates.pointer, chosen = ws.chosenExperts.pointer
        let normalizer = ws.gateNormalizer.pointer
        let gradProbabilities = ws.gradProbabilities.pointer, gradLogits = ws.gradLogits.pointer
        let fractions = routing.loadFraction
        let auxScale = auxiliaryWeight * Float(expertCount) / Float(batch)
        for b in 0..<batch {
            let dp = gradProbabilities + b * expertCount
            for e in 0..<expertCount { dp[e] = auxScale * fractions[e] }
            if k == 1 {
                dp[Int(chosen[b])] += gradGates[b]
            } else {
                var weighted: Float = 0
                for slot in 0..<k { weighted += gates[b * k + slot] * gradGates[b * k + slot] }
                let inverse = 1 / normalizer[b]
                for slot in 0..<k {
                    dp[Int(chosen[b * k + slot])] += (gradGates[b * k + slot] - weighted) * inverse
                }
            }
        }
        Softmax.backwardRows(probabilities, gradProbabilities, gradLogits, rows: batch, columns: expertCount)
        gradients.router.weight.withUnsafeMutableBufferPointer { gw in
            BLAS.gemm(
                transposeA: true, transposeB: false, m: expertCount, n: inputs, k: batch,
                a: gradLogits, lda: expertCount, b: x, ldb: inputs, beta: 0, c: gw.baseAddress!, ldc: inputs)
        }
        gradients.router.bias.withUnsafeMutableBufferPointer { gb in
            Kernels.columnSums(gradLogits, rows: batch, columns: expertCount, into: gb.baseAddress!)
        }
    }
}

extension Linear {
    mutating func zero() {
        weight.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        bias.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

extension ExpertMLP {
    mutating func zero() {
        fc1.zero()
        fc2.zero()
    }
}
