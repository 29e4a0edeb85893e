/// A fully connected layer y = x Wᵀ + b.
///
/// The weight is stored `[outputs, inputs]`, the same layout as PyTorch's
/// `nn.Linear`, so a checkpoint maps one to one onto a PyTorch module. Batched
/// products go through `cblas_sgemm`:
/// forward Y = X Wᵀ, backward dW = dYᵀ X, db = Σ_rows dY, dX = dY W.
public struct Linear: Sendable, Equatable {
    /// `[outputs, inputs]`.
    public var weight: Tensor
    /// `[outputs]`.
    public var bias: Tensor

    /// The number of input features.
    public var inputs: Int { weight.shape[1] }
    /// The number of output features.
    public var outputs: Int { weight.shape[0] }

    /// A layer of zeros (the shape of a gradient, or before initialization).
    public init(inputs: Int, outputs: Int) {
        weight = Tensor(shape: [outputs, inputs])
        bias = Tensor(shape: [outputs])
    }

    /// A layer from explicit tensors.
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` unless weight is
    ///   `[outputs, inputs]` and bias `[outputs]`.
    public init(weight: Tensor, bias: Tensor) throws(PolicyNetworkError) {
        guard weight.rank == 2, bias.shape == [weight.shape[0]] else {
            throw PolicyNetworkError(
                .shapeMismatch, "A linear layer needs weight [out, in] and bias [out].",
                context: ["weight": "\(weight.shape)", "bias": "\(bias.shape)"])
        }
        self.weight = weight
        self.bias = bias
    }

    /// How the weights are drawn at initialization.
    public enum Initialization: Sendable {
        /// U(−b, b) with b = √(6 / fan_in): keeps the activation variance of a
        /// ReLU/GELU layer constant from layer to layer (He et al.).
        case kaiming
        /// U(−b, b) with b = √(6 / (fan_in + fan_out)): for layers feeding a
        /// softmax or a linear output (Glorot & Bengio).
        case xavier
    }

    /// A seeded layer: weights from `initialization`, biases zero.
    public init(inputs: Int, outputs: Int, initialization: Initialization, generator: inout SeededGenerator) {
        self.init(inputs: inputs, outputs: outputs)
        let bound: Float
        switch initialization {
        case .kaiming: bound = (6 / Float(inputs)).squareRoot()
        case .xavier: bound = (6 / Float(inputs + outputs)).squareRoot()
        }
        for i in 0..<weight.count { weight[i] = generator.nextUniform(bound: bound) }
    }

    /// The gradients of one backward pass.
    public struct Gradients: Sendable {
        /// dL/dW, `[outputs, inputs]`.
        public var weight: Tensor
        /// dL/db, `[outputs]`.
        public var bias: Tensor
        /// dL/dX, `[batch, inputs]`.
        public var input: Tensor
    }

    /// Y = X Wᵀ + b for `X` of shape `[batch, inputs]`.
    public func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank == 2 && input.shape[1] == inputs, "linear expects [batch, \(inputs)]")
        let batch = input.shape[0]
        var output = Tensor(shape: [batch, outputs])
        for r in 0..<batch {
            for o in 0..<outputs { output[r * outputs + o] = bias[o] }
        }
        guard batch > 0 else { return output }
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    BLAS.gemm(
                        transposeA: false, transposeB: true, m: batch, n: outputs, k: inputs,
                        a: x.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: inputs,
                        beta: 1, c: y.baseAddress!, ldc: outputs)
                }
            }
        }
        return output
    }

    /// dW = dYᵀ X, db = Σ_rows dY, dX = dY W.
    public func backward(input: Tensor, gradOutput: Tensor) -> Gradients {
        let batch = input.shape[0]
        precondition(gradOutput.shape == [batch, outputs], "linear backward expects gradOutput [batch, \(outputs)]")
        var gradients = Gradients(
            weight: Tensor(shape: weight.shape), bias: Tensor(shape: bias.shape), input: Tensor(shape: input.shape))
        guard batch > 0 else { return gradients }
        input.withUnsafeBufferPointer { x in
            gradOutput.withUnsafeBufferPointer { dy in
                weight.withUnsafeBufferPointer { w in
                    gradients.weight.withUnsafeMutableBufferPointer { dw in
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: outputs, n: inputs, k: batch,
                            a: dy.baseAddress!, lda: outputs, b: x.baseAddress!, ldb: inputs,
                            beta: 0, c: dw.baseAddress!, ldc: inputs)
                    }
                    gradients.input.withUnsafeMutableBufferPointer { dx in
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: batch, n: inputs, k: outputs,
                            a: dy.baseAddress!, lda: outputs, b: w.baseAddress!, ldb: inputs,
                            beta: 0, c: dx.baseAddress!, ldc: inputs)
                    }
                }
                gradients.bias.withUnsafeMutableBufferPointer { db in
                    Kernels.columnSums(dy.baseAddress!, rows: batch, columns: outputs, into: db.baseAddress!)
                }
            }
        }
        return gradients
    }
}

/// Small loops shared by the layers and the mixture of experts.
enum Kernels {
    /// out[j] = Σ_r m[r, j].
    @inline(__always)
    static func columnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: columns)
        for r in 0..<rows {
            let row = m + r * columns
            for j in 0..<columns { out[j] += row[j] }
        }
    }

    /// Every row of `m` (`[rows, columns]`) set to `row`: a bias to accumulate a product onto.
    @inline(__always)
    static func fillRows(_ m: UnsafeMutablePointer<Float>, with row: UnsafePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows { (m + r * columns).update(from: row, count: columns) }
    }

    /// a[i] *= b[i].
    @inline(__always)
    static func multiply(_ a: UnsafeMutablePointer<Float>, by b: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            FastMath.store(FastMath.load(a, i) * FastMath.load(b, i), a, i)
            i += 8
        }
        while i < count {
            a[i] *= b[i]
            i += 1
        }
    }

    /// Σ a[i]·b[i] with eight independent partial sums, so the loop vectorizes.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= count {
            let va = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let vb = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc += va * vb
            i += 8
        }
        var sum = acc.sum()
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }
}
