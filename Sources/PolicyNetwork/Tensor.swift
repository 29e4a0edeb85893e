/// A dense, contiguous, row-major array of Float32 values with a shape.
///
/// The one storage type of the network: parameters, gradients, batches and
/// outputs are all tensors. Storage is a Swift array, so a tensor is a value
/// (copy-on-write) and `Sendable`; the hot paths reach the raw floats through
/// the scoped `withUnsafe…` accessors and never hold a pointer past the call.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The extent of each dimension; the product is ``count``.
    public private(set) var shape: [Int]
    /// The values in row-major order.
    public internal(set) var scalars: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        self.shape = shape
        self.scalars = Array(repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of `shape` holding `scalars` in row-major order.
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` when the number of
    ///   scalars is not the product of the shape.
    public init(shape: [Int], scalars: [Float]) throws(PolicyNetworkError) {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == scalars.count else {
            throw PolicyNetworkError(
                .shapeMismatch, "A tensor of shape \(shape) needs \(shape.reduce(1, *)) values, got \(scalars.count).",
                context: ["shape": "\(shape)", "count": "\(scalars.count)"])
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// The number of values (the product of the shape).
    public var count: Int { scalars.count }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The value at a flat (row-major) index.
    public subscript(index: Int) -> Float {
        get { scalars[index] }
        set { scalars[index] = newValue }
    }

    /// The value at `(row, column)` of a rank-2 tensor.
    public subscript(row: Int, column: Int) -> Float {
        get { scalars[row * shape[1] + column] }
        set { scalars[row * shape[1] + column] = newValue }
    }

    /// Calls `body` with the values; the pointer is valid only inside `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with mutable access to the values; the pointer is valid only inside `body`.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// The same values under a new shape with the same number of elements.
    public func reshaped(_ newShape: [Int]) throws(PolicyNetworkError) -> Tensor {
        try Tensor(shape: newShape, scalars: scalars)
    }

    /// True when both tensors have the same shape and the same bit patterns
    /// (so `-0 ≠ +0` and `NaN` equals the identical `NaN`), the test for
    /// "left untouched".
    public func isBitIdentical(to other: Tensor) -> Bool {
        guard shape == other.shape else { return false }
        return scalars.withUnsafeBytes { a in other.scalars.withUnsafeBytes { b in a.elementsEqual(b) } }
    }

    /// The sum of squared values, accumulated in Double.
    public var squaredNorm: Double {
        scalars.withUnsafeBufferPointer { values in
            var sum = 0.0
            for value in values { sum += Double(value) * Double(value) }
            return sum
        }
    }

    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }

    /// The matrix product `op(a) · op(b)` of two rank-2 tensors through `cblas_sgemm`.
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` when the inner
    ///   dimensions differ or an operand is not a matrix.
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) throws(PolicyNetworkError) -> Tensor {
        guard a.rank == 2, b.rank == 2 else {
            throw PolicyNetworkError(.shapeMismatch, "matmul needs two matrices, got shapes \(a.shape) and \(b.shape).")
        }
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kB = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        guard k == kB else {
            throw PolicyNetworkError(
                .shapeMismatch, "matmul inner dimensions differ: \(k) vs \(kB).",
                context: ["a": "\(a.shape)", "b": "\(b.shape)"])
        }
        var result = Tensor(shape: [m, n])
        guard m > 0, n > 0 else { return result }
        if k == 0 { return result }
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                result.scalars.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                        beta: 0, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return result
    }
}
