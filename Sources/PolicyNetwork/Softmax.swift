/// Row-wise softmax: p_j = e^{z_j − max z} / Σ_i e^{z_i − max z}.
///
/// The router turns its logits into expert probabilities with it, and the
/// cross-entropy loss uses it on the action logits. Subtracting the row maximum
/// keeps e^z finite. The backward pass is the Jacobian-vector product
/// dz_j = p_j (dp_j − Σ_i p_i dp_i).
public enum Softmax {
    /// Softmax over the last dimension of a rank-2 tensor `[rows, columns]`.
    public static func forward(_ logits: Tensor) -> Tensor {
        precondition(logits.rank == 2, "softmax expects [rows, columns]")
        var output = logits
        logits.withUnsafeBufferPointer { z in
            output.withUnsafeMutableBufferPointer { p in
                rows(z.baseAddress!, p.baseAddress!, rows: logits.shape[0], columns: logits.shape[1])
            }
        }
        return output
    }

    /// The gradient of the logits given the softmax output and the gradient of the output.
    public static func backward(output: Tensor, gradOutput: Tensor) -> Tensor {
        precondition(output.shape == gradOutput.shape && output.rank == 2, "softmax backward: shapes differ")
        var gradInput = Tensor(shape: output.shape)
        output.withUnsafeBufferPointer { p in
            gradOutput.withUnsafeBufferPointer { dp in
                gradInput.withUnsafeMutableBufferPointer { dz in
                    backwardRows(
                        p.baseAddress!, dp.baseAddress!, dz.baseAddress!,
                        rows: output.shape[0], columns: output.shape[1])
                }
            }
        }
        return gradInput
    }

    @inline(__always)
    static func rows(_ z: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let zr = z + r * columns
            let pr = p + r * columns
            var largest = -Float.infinity
            for j in 0..<columns { largest = Swift.max(largest, zr[j]) }
            // The exponentials eight at a time (lane for lane the scalar
            // arithmetic), then summed in column order as before.
            var j = 0
            let shift = FastMath.Vector(repeating: largest)
            while j + 8 <= columns {
                FastMath.store(FastMath.exp(FastMath.load(zr, j) - shift), pr, j)
                j += 8
            }
            while j < columns {
                pr[j] = FastMath.exp(zr[j] - largest)
                j += 1
            }
            var sum: Float = 0
            for j in 0..<columns { sum += pr[j] }
            let inverse = 1 / sum
            for j in 0..<columns { pr[j] *= inverse }
        }
    }

    @inline(__always)
    static func backwardRows(
        _ p: UnsafePointer<Float>, _ dp: UnsafePointer<Float>, _ dz: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            let o = r * columns
            var dot: Float = 0
            for j in 0..<columns { dot += p[o + j] * dp[o + j] }
            for j in 0..<columns { dz[o + j] = p[o + j] * (dp[o + j] - dot) }
        }
    }
}
