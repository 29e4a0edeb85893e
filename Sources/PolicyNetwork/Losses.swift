/// Cross-entropy over discrete actions, computed from logits.
///
/// L = −(1/B) Σ_b log softmax(z_b)[y_b]. Taking logits (not probabilities) lets
/// the log-sum-exp be computed stably, and the gradient is the simple
/// dL/dz_b = (softmax(z_b) − onehot(y_b)) / B.
public enum CrossEntropy {
    /// The mean loss over the batch and its gradient with respect to the logits.
    ///
    /// - Parameters:
    ///   - logits: `[batch, actions]`.
    ///   - targets: one action index per row, each in `0..<actions`.
    public static func loss(logits: Tensor, targets: [Int]) -> (loss: Float, gradient: Tensor) {
        precondition(logits.rank == 2 && logits.shape[0] == targets.count, "cross-entropy: one target per row")
        var gradient = Tensor(shape: logits.shape)
        let loss = logits.withUnsafeBufferPointer { z in
            gradient.withUnsafeMutableBufferPointer { g in
                targets.withUnsafeBufferPointer { y in
                    compute(z.baseAddress!, y.baseAddress!, g.baseAddress!, rows: logits.shape[0], columns: logits.shape[1])
                }
            }
        }
        return (loss, gradient)
    }

    /// Writes the gradient into `gradient` and returns the mean loss.
    @inline(__always)
    static func compute(
        _ z: UnsafePointer<Float>, _ targets: UnsafePointer<Int>, _ gradient: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) -> Float {
        Softmax.rows(z, gradient, rows: rows, columns: columns)
        let scale = 1 / Float(rows)
        var total: Double = 0
        for r in 0..<rows {
            let g = gradient + r * columns
            let target = targets[r]
            precondition(target >= 0 && target < columns, "cross-entropy: target \(target) outside 0..<\(columns)")
            total -= Double(_logf(Swift.max(g[target], Float.leastNormalMagnitude)))
            g[target] -= 1
            for j in 0..<columns { g[j] *= scale }
        }
        return Float(total / Double(rows))
    }
}

/// Mean squared error, for continuous targets (values, steering, throttle).
///
/// L = (1/N) Σ (ŷ − y)² over all N elements; dL/dŷ = 2(ŷ − y)/N.
public enum MeanSquaredError {
    /// The mean loss and its gradient with respect to the predictions.
    public static func loss(predictions: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        precondition(predictions.shape == targets.shape, "MSE: shapes differ")
        var gradient = Tensor(shape: predictions.shape)
        let loss = predictions.withUnsafeBufferPointer { p in
            targets.withUnsafeBufferPointer { t in
                gradient.withUnsafeMutableBufferPointer { g in
                    compute(p.baseAddress!, t.baseAddress!, g.baseAddress!, count: predictions.count)
                }
            }
        }
        return (loss, gradient)
    }

    @inline(__always)
    static func compute(
        _ p: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>, count: Int
    ) -> Float {
        guard count > 0 else { return 0 }
        let scale = 2 / Float(count)
        var total: Double = 0
        for i in 0..<count {
            let d = p[i] - t[i]
            total += Double(d * d)
            gradient[i] = d * scale
        }
        return Float(total / Double(count))
    }
}
