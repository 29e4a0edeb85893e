import FleetWire

/// The inner loops of aggregation for decoded deltas: `sum += weight ×
/// decoded(tensor)` for each payload encoding, without expanding the tensor
/// first. (Scanned containers fold through FleetWire's own kernels, straight
/// from the container bytes: `RoundAggregator.add(_: ScannedDelta)`.)
///
/// Aggregation should run at memory speed, so each loop walks the payload
/// once over raw buffers; sparse int8 payloads track the current row instead
/// of dividing per element.
enum FoldKernels {
    static func fold(_ tensor: TensorDelta, weight: Float, into sum: UnsafeMutableBufferPointer<Float>) {
        let columns = tensor.columns
        switch tensor.payload {
        case .dense(let values):
            values.withUnsafeBufferPointer { v in
                for index in 0..<v.count { sum[index] += weight * v[index] }
            }
        case .sparse(let indices, let values):
            indices.withUnsafeBufferPointer { i in
                values.withUnsafeBufferPointer { v in
                    for position in 0..<i.count { sum[Int(i[position])] += weight * v[position] }
                }
            }
        case .denseInt8(let scales, let values):
            values.withUnsafeBufferPointer { q in
                for row in 0..<scales.count {
                    let factor = weight * scales[row]
                    let start = row * columns
                    for column in 0..<columns { sum[start + column] += factor * Float(q[start + column]) }
                }
            }
        case .sparseInt8(let scales, let indices, let values):
            // weight × (q × scale): the decoded value first, as the scanned path folds it.
            indices.withUnsafeBufferPointer { i in
                values.withUnsafeBufferPointer { q in
                    var row = 0
                    var rowEnd = columns
                    var scale = scales[0]
                    for position in 0..<i.count {
                        let index = Int(i[position])
                        if index >= rowEnd {
                            row = index / columns
                            rowEnd = (row + 1) * columns
                            scale = scales[row]
                        }
                        sum[index] += weight * (Float(q[position]) * scale)
                    }
                }
            }
        }
    }

    /// Σ x² over the decoded values.
    static func squaredNorm(of tensor: TensorDelta) -> Double {
        switch tensor.payload {
        case .dense(let values), .sparse(_, let values):
            return values.withUnsafeBufferPointer { sumOfSquares($0) }
        case .denseInt8(let scales, let values):
            let columns = tensor.columns
            var total = 0.0
            values.withUnsafeBufferPointer { q in
                for row in 0..<scales.count {
                    var rowTotal: Int32 = 0
                    for column in 0..<columns {
                        let value = Int32(q[row * columns + column])
                        rowTotal &+= value &* value
                    }
                    total += Double(rowTotal) * Double(scales[row]) * Double(scales[row])
                }
            }
            return total
        case .sparseInt8(let scales, let indices, let values):
            let columns = tensor.columns
            var total = 0.0
            for (index, q) in zip(indices, values) {
                let value = Double(q) * Double(scales[Int(index) / columns])
                total += value * value
            }
            return total
        }
    }

    /// Σ x²: four independent eight-lane float32 accumulators per block (so
    /// the adds do not wait on each other), each block summed in double.
    private static func sumOfSquares(_ values: UnsafeBufferPointer<Float>) -> Double {
        guard let base = values.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        var total = 0.0
        var index = 0
        let block = 4_096
        while index < values.count {
            let end = min(values.count, index + block)
            var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
            while index + 32 <= end {
                let x0 = raw.loadUnaligned(fromByteOffset: 4 * index, as: SIMD8<Float>.self)
                let x1 = raw.loadUnaligned(fromByteOffset: 4 * (index + 8), as: SIMD8<Float>.self)
                let x2 = raw.loadUnaligned(fromByteOffset: 4 * (index + 16), as: SIMD8<Float>.self)
                let x3 = raw.loadUnaligned(fromByteOffset: 4 * (index + 24), as: SIMD8<Float>.self)
                a += x0 * x0
                b += x1 * x1
                c += x2 * x2
                d += x3 * x3
                index += 32
            }
            var partial = Double(((a + b) + (c + d)).sum())
            while index < end {
                partial += Double(values[index]) * Double(values[index])
                index += 1
            }
            total += partial
        }
        return total
    }
}
