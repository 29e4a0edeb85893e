import FleetWire

/// The inner loops of aggregation: `sum += weight × decoded(tensor)` for each
/// payload encoding, without expanding the tensor first.
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
            indices.withUnsafeBufferPointer { i in
                values.withUnsafeBufferPointer { q in
                    var row = 0
                    var rowEnd = columns
                    var factor = weight * scales[0]
                    for position in 0..<i.count {
                        let index = Int(i[position])
                        if index >= rowEnd {
                            row = index / columns
                            rowEnd = (row + 1) * columns
                            factor = weight * scales[row]
                        }
                        sum[index] += factor * Float(q[position])
                    }
                }
            }
        }
    }

    /// Σ x² over the decoded values.
    static func squaredNorm(of tensor: TensorDelta) -> Double {
        var total = 0.0
        switch tensor.payload {
        case .dense(let values), .sparse(_, let values):
            for value in values { total += Double(value) * Double(value) }
        case .denseInt8(let scales, let values):
            let columns = tensor.columns
            for row in 0..<scales.count {
                var rowTotal = 0.0
                for column in 0..<columns {
                    let q = Double(values[row * columns + column])
                    rowTotal += q * q
                }
                total += rowTotal * Double(scales[row]) * Double(scales[row])
            }
        case .sparseInt8(let scales, let indices, let values):
            let columns = tensor.columns
            for (index, q) in zip(indices, values) {
                let value = Double(q) * Double(scales[Int(index) / columns])
                total += value * value
            }
        }
        return total
    }
}
