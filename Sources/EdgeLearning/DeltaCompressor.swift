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
        let keep = TensorCompression.keepCount(fraction: configuration.fraction, of: carried.count)
        let encoded = TensorCompression.encode(name: name, shape: shape, values: carried, keep: keep, quantize: configuration.quantize)
        if configuration.errorFeedback {
            for (position, index) in encoded.indices.enumerated() { carried[Int(index)] -= encoded.sentValues[position] }
            residuals[name] = carried
        }
        return encoded.tensor
    }

    /// The flat indices of the `count` largest |values|, in increasing order (see ``TensorCompression``).
    static func largestMagnitudes(of values: [Float], count: Int) -> [UInt32] {
        TensorCompression.largestMagnitudes(of: values, count: count)
    }
}
