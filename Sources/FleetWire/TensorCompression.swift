/// Encodes one tensor's change as the few elements that matter: top-k
/// sparsification and 8-bit quantization with per-row scales.
///
/// Why shared: a node compresses what it learned before uploading it, and the
/// coordinator compresses the step it applies to the shared model before
/// publishing it. Both keep the largest changes, quantize them the same way
/// and carry what they left out into their next change (error feedback), so
/// the one encoder lives here and each side keeps its own residuals.
///
///     kept  = the `keep` largest |values| (ties: lowest index first)
///     scale = max |kept in row| / 127,   q = round(value / scale) ∈ [−127, 127]
public enum TensorCompression {
    /// A tensor block and exactly what the receiver will decode from it.
    public struct Encoded: Sendable {
        public var tensor: TensorDelta
        /// The flat indices the block carries, increasing.
        public var indices: [UInt32]
        /// Their values as decoded (`q × scale` when quantized).
        public var sentValues: [Float]
    }

    /// Encodes the `keep` largest-magnitude elements of `values`.
    ///
    /// - Parameters:
    ///   - keep: How many elements to carry, in 1 … `values.count`; all of
    ///     them gives a dense encoding.
    ///   - quantize: int8 with per-row scales, else float32.
    public static func encode(name: String, shape: [Int], values: [Float], keep: Int, quantize: Bool) -> Encoded {
        let count = values.count
        precondition(count == shape.reduce(1, *), "values do not fill shape \(shape)")
        let keep = min(count, max(1, keep))
        let indices = keep == count ? Array(0..<UInt32(count)) : largestMagnitudes(of: values, count: keep)
        let rows = shape.count <= 1 ? 1 : shape[0]
        let columns = count / rows
        var sentValues = [Float](repeating: 0, count: indices.count)
        let tensor: TensorDelta
        if quantize {
            var scales = [Float](repeating: 0, count: rows)
            for index in indices {
                let row = Int(index) / columns
                scales[row] = max(scales[row], abs(values[Int(index)]))
            }
            for row in 0..<rows { scales[row] /= 127 }
            var quantized = [Int8](repeating: 0, count: indices.count)
            for (position, index) in indices.enumerated() {
                let scale = scales[Int(index) / columns]
                let q = scale > 0 ? (values[Int(index)] / scale).rounded() : 0
                quantized[position] = Int8(max(-127, min(127, q)))
                sentValues[position] = Float(quantized[position]) * scale
            }
            tensor = keep == count
                ? TensorDelta(name: name, shape: shape, payload: .denseInt8(scales: scales, values: quantized))
                : TensorDelta(name: name, shape: shape, payload: .sparseInt8(scales: scales, indices: indices, values: quantized))
        } else {
            for (position, index) in indices.enumerated() { sentValues[position] = values[Int(index)] }
            tensor = keep == count
                ? TensorDelta(name: name, shape: shape, payload: .dense(sentValues))
                : TensorDelta(name: name, shape: shape, payload: .sparse(indices: indices, values: sentValues))
        }
        return Encoded(tensor: tensor, indices: indices, sentValues: sentValues)
    }

    /// How many of `count` elements a share `fraction` keeps: ⌈fraction · count⌉, at least 1.
    public static func keepCount(fraction: Double, of count: Int) -> Int {
        min(count, max(1, Int((fraction * Double(count)).rounded(.up))))
    }

    /// The flat indices of the `count` largest |values|, in increasing order.
    ///
    /// Quickselect on the magnitudes finds the threshold in O(n); ties at the
    /// threshold are taken lowest index first so the result is deterministic.
    public static func largestMagnitudes(of values: [Float], count: Int) -> [UInt32] {
        var magnitudes = values.map { abs($0) }
        let threshold = selectKthLargest(&magnitudes, k: count)
        var selected: [UInt32] = []
        selected.reserveCapacity(count)
        var above = 0
        for value in values where abs(value) > threshold { above += 1 }
        var tiesAllowed = count - above
        for (index, value) in values.enumerated() {
            let magnitude = abs(value)
            if magnitude > threshold {
                selected.append(UInt32(index))
            } else if magnitude == threshold && tiesAllowed > 0 {
                selected.append(UInt32(index))
                tiesAllowed -= 1
            }
        }
        return selected
    }

    /// The k-th largest element (1-based), reordering `values` (Hoare partition, median of three).
    private static func selectKthLargest(_ values: inout [Float], k: Int) -> Float {
        let target = values.count - k  // its position in ascending order
        var low = 0
        var high = values.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low
            var j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return values[target]
            }
        }
        return values[target]
    }
}
