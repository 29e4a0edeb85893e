public import FleetWire

/// Shrinks a dense policy delta to a few kilobytes: top-k sparsification and
/// 8-bit quantization with per-row scales, with error feedback.
///
/// Sending only the largest `fraction` of each tensor's changes, each as an
/// int8 times its row's scale, cuts the bytes by 30× or more, but on its own it
/// would bias every round: small changes would never be sent. Error feedback
/// keeps what was not sent (the residual) and adds it to the next delta of the
/// same tensor, so over rounds everything the node learned reaches the fleet
/// (Seide et al. 2014; Stich et al. 2018):
///
///     v        = delta + residual
///     sent     = quantize(topK(v))
///     residual = v − dequantize(sent)
///
/// The compressor owns the residuals, so keep one per node and per base model.
public struct DeltaCompressor: Sendable {
    /// How a delta is shrunk.
    public struct Configuration: Sendable, Equatable {
        /// The share of each tensor's elements that are sent, in (0, 1].
        /// 1 sends every element (no sparsification).
        public var fraction: Double
        /// Whether the sent values are int8 with per-row scales (else float32).
        public var quantize: Bool
        /// Whether what was not sent is carried into the next delta.
        public var errorFeedback: Bool

        public init(fraction: Double = 0.05, quantize: Bool = true, errorFeedback: Bool = true) {
            self.fraction = fraction
            self.quantize = quantize
            self.errorFeedback = errorFeedback
        }

        /// Sends every element as float32: the uncompressed reference.
        public static let uncompressed = Configuration(fraction: 1, quantize: false, errorFeedback: false)
    }

    public var configuration: Configuration
    /// What has not been sent yet, by tensor name.
    public private(set) var residuals: [String: [Float]] = [:]

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.fraction > 0 && configuration.fraction <= 1, "fraction must be in (0, 1]")
        self.configuration = configuration
    }

    /// Forgets the residuals, e.g. when the base model changes shape.
    public mutating func reset() { residuals.removeAll() }

    /// Compresses one tensor's dense change and updates its residual.
    ///
    /// - Parameters:
    ///   - name: The parameter's name in the model.
    ///   - shape: Its row-major shape.
    ///   - values: `local − base`, row-major, `shape` product long.
    ///   - role: `.addition` for a tensor the base lacks; those are sent whole
    ///     and dense (float32), since the fleet has nothing to add them to.
    public mutating func compress(
        name: String,
        shape: [Int],
        values: [Float],
        role: TensorDelta.Role = .difference
    ) -> TensorDelta {
        precondition(values.count == shape.reduce(1, *), "values do not fill shape \(shape)")
        if role == .addition {
            return TensorDelta(name: name, role: .addition, shape: shape, payload: .dense(values))
        }
        var carried = values
        if configuration.errorFeedback, let residual = residuals[name], residual.count == values.count {
            for index in carried.indices { carried[index] += residual[index] }
        }
        let count = carried.count
        let keep = min(count, max(1, Int((configuration.fraction * Double(count)).rounded(.up))))
        let indices = keep == count ? Array(0..<UInt32(count)) : Self.largestMagnitudes(of: carried, count: keep)

        let rows = shape.count <= 1 ? 1 : shape[0]
        let columns = count / rows
        let tensor: TensorDelta
        var sentValues = [Float](repeating: 0, count: indices.count)
        if configuration.quantize {
            var scales = [Float](repeating: 0, count: rows)
            for index in indices {
                let row = Int(index) / columns
                scales[row] = max(scales[row], abs(carried[Int(index)]))
            }
            for row in 0..<rows { scales[row] /= 127 }
            var quantized = [Int8](repeating: 0, count: indices.count)
            for (position, index) in indices.enumerated() {
                let scale = scales[Int(index) / columns]
                let q = scale > 0 ? (carried[Int(index)] / scale).rounded() : 0
                quantized[position] = Int8(max(-127, min(127, q)))
                sentValues[position] = Float(quantized[position]) * scale
            }
            tensor = keep == count
                ? TensorDelta(name: name, shape: shape, payload: .denseInt8(scales: scales, values: quantized))
                : TensorDelta(name: name, shape: shape, payload: .sparseInt8(scales: scales, indices: indices, values: quantized))
        } else {
            for (position, index) in indices.enumerated() { sentValues[position] = carried[Int(index)] }
            tensor = keep == count
                ? TensorDelta(name: name, shape: shape, payload: .dense(sentValues))
                : TensorDelta(name: name, shape: shape, payload: .sparse(indices: indices, values: sentValues))
        }

        if configuration.errorFeedback {
            for (position, index) in indices.enumerated() { carried[Int(index)] -= sentValues[position] }
            residuals[name] = carried
        }
        return tensor
    }

    /// The flat indices of the `count` largest |values|, in increasing order.
    ///
    /// Quickselect on the magnitudes finds the threshold in O(n); ties at the
    /// threshold are taken lowest index first so the result is deterministic.
    static func largestMagnitudes(of values: [Float], count: Int) -> [UInt32] {
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
