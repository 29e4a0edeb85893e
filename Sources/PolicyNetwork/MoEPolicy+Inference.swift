/// Scratch space for single-observation inference; allocated once per architecture.
///
/// Driving calls the policy once per control tick, and an allocation there is a
/// latency spike. After the first call with a given architecture,
/// ``MoEPolicy/infer(_:workspace:)`` touches only these buffers.
public final class InferenceWorkspace {
    private(set) var experts = 0, hidden = 0, actions = 0, topK = 0
    let probabilities = Buffer<Float>()
    let hiddenActivation = Buffer<Float>()
    let expertOutput = Buffer<Float>()
    let logits = Buffer<Float>()
    let chosen = Buffer<Int>()
    let gates = Buffer<Float>()

    /// An empty workspace; it sizes itself on first use.
    public init() {}

    func prepare(for architecture: PolicyArchitecture) {
        guard architecture.experts != experts || architecture.hidden != hidden
            || architecture.actions != actions || architecture.topK != topK
        else { return }
        experts = architecture.experts
        hidden = architecture.hidden
        actions = architecture.actions
        topK = architecture.topK
        probabilities.resize(experts)
        hiddenActivation.resize(hidden)
        expertOutput.resize(actions)
        logits.resize(actions)
        chosen.resize(topK)
        gates.resize(topK)
    }

    /// Calls `body` with the output logits of the last inference.
    public func withLogits<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: logits.pointer, count: actions))
    }

    /// Calls `body` with the router probabilities of the last inference.
    public func withRouterProbabilities<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: probabilities.pointer, count: experts))
    }

    /// The experts evaluated by the last inference, best first.
    public func chosenExperts() -> [Int] { Array(UnsafeBufferPointer(start: chosen.pointer, count: topK)) }
}

/// The result of one inference.
public struct InferenceResult: Sendable, Equatable {
    /// argmax of the output logits.
    public var action: Int
    /// The expert the router ranked first.
    public var topExpert: Int
    /// Its mixing weight.
    public var topGate: Float
    /// Entropy of the router distribution in nats: high means the router is
    /// unsure which expert knows this scene (an edge-case trigger).
    public var routerEntropy: Float
}

extension MoEPolicy {
    /// Runs one observation through the policy, evaluating only the top-k experts.
    ///
    /// Matrix–vector products are plain SIMD loops: at batch 1 the whole model
    /// fits in L2 and the call overhead of BLAS would dominate. The logits stay
    /// in `workspace` (``InferenceWorkspace/withLogits(_:)``).
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` when the observation
    ///   does not have `inputs` values.
    public func infer(
        _ observation: UnsafeBufferPointer<Float>, workspace ws: InferenceWorkspace
    ) throws(PolicyNetworkError) -> InferenceResult {
        guard observation.count == architecture.inputs else {
            throw PolicyNetworkError(
                .shapeMismatch, "An observation has \(architecture.inputs) values, got \(observation.count).")
        }
        ws.prepare(for: architecture)
        let x = observation.baseAddress!
        let inputs = architecture.inputs, hidden = architecture.hidden, actions = architecture.actions
        let expertCount = experts.count, k = architecture.topK
        let p = ws.probabilities.pointer, h = ws.hiddenActivation.pointer, y = ws.expertOutput.pointer
        let out = ws.logits.pointer, chosen = ws.chosen.pointer, gates = ws.gates.pointer

        router.weight.withUnsafeBufferPointer { w in
            router.bias.withUnsafeBufferPointer { b in
                Self.matrixVector(w.baseAddress!, b.baseAddress!, x, rows: expertCount, columns: inputs, into: p)
            }
        }
        Softmax.rows(p, p, rows: 1, columns: expertCount)
        var entropy: Float = 0
        for e in 0..<expertCount where p[e] > 0 { entropy -= p[e] * _logf(p[e]) }

        var sum: Float = 0
        for slot in 0..<k {
            var best = -1
            var bestProbability = -Float.infinity
            for e in 0..<expertCount where p[e] > bestProbability {
                var taken = false
                for previous in 0..<slot where chosen[previous] == e { taken = true }
                if !taken {
                    best = e
                    bestProbability = p[e]
                }
            }
            if best < 0 { best = (0..<expertCount).first { e in !(0..<slot).contains { chosen[$0] == e } }! }
            chosen[slot] = best
            sum += p[best]
        }
        for slot in 0..<k { gates[slot] = k == 1 ? p[chosen[slot]] : p[chosen[slot]] / sum }

        out.update(repeating: 0, count: actions)
        let activation = architecture.activation
        for slot in 0..<k {
            let expert = experts[chosen[slot]]
            expert.fc1.weight.withUnsafeBufferPointer { w1 in
                expert.fc1.bias.withUnsafeBufferPointer { b1 in
                    Self.matrixVector(w1.baseAddress!, b1.baseAddress!, x, rows: hidden, columns: inputs, into: h)
                }
            }
            activation.apply(h, h, count: hidden)
            expert.fc2.weight.withUnsafeBufferPointer { w2 in
                expert.fc2.bias.withUnsafeBufferPointer { b2 in
                    Self.matrixVector(w2.baseAddress!, b2.baseAddress!, h, rows: actions, columns: hidden, into: y)
                }
            }
            let g = gates[slot]
            for j in 0..<actions { out[j] += g * y[j] }
        }
        var action = 0
        for j in 1..<max(actions, 1) where out[j] > out[action] { action = j }
        return InferenceResult(action: action, topExpert: chosen[0], topGate: gates[0], routerEntropy: entropy)
    }

    /// ``infer(_:workspace:)`` for an array (no copy is made).
    public func infer(_ observation: [Float], workspace: InferenceWorkspace) throws(PolicyNetworkError) -> InferenceResult {
        try observation.withUnsafeBufferPointer { (buffer) throws(PolicyNetworkError) -> InferenceResult in
            try infer(buffer, workspace: workspace)
        }
    }

    /// y = W x + b for a row-major `[rows, columns]` W, four rows at a time so
    /// each load of x serves four dot products.
    @inline(__always)
    static func matrixVector(
        _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
        rows: Int, columns: Int, into y: UnsafeMutablePointer<Float>
    ) {
        let rx = UnsafeRawPointer(x)
        var r = 0
        let vectorColumns = columns & ~7
        while r + 4 <= rows {
            let w0 = UnsafeRawPointer(w + r * columns), w1 = UnsafeRawPointer(w + (r + 1) * columns)
            let w2 = UnsafeRawPointer(w + (r + 2) * columns), w3 = UnsafeRawPointer(w + (r + 3) * columns)
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var c = 0
            while c < vectorColumns {
                let offset = c * 4
                let xv = rx.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                a0 += w0.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * xv
                a1 += w1.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * xv
                a2 += w2.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * xv
                a3 += w3.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * xv
                c += 8
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while c < columns {
                let xc = x[c]
                s0 += w[r * columns + c] * xc
                s1 += w[(r + 1) * columns + c] * xc
                s2 += w[(r + 2) * columns + c] * xc
                s3 += w[(r + 3) * columns + c] * xc
                c += 1
            }
            y[r] = s0 + b[r]
            y[r + 1] = s1 + b[r + 1]
            y[r + 2] = s2 + b[r + 2]
            y[r + 3] = s3 + b[r + 3]
            r += 4
        }
        while r < rows {
            y[r] = Kernels.dot(w + r * columns, x, count: columns) + b[r]
            r += 1
        }
    }
}
