public import FleetWire

/// Shrinks the server optimizer's step into the delta the fleet downloads:
/// top-k sparse, int8 with per-row scales, with error feedback on the server.
///
/// Why: the step is what every node must add to the version it holds to get
/// the next one. Sent whole as a checkpoint it costs every node the full model
/// each round; as a delta it costs about what an upload does. The coordinator
/// applies exactly the compressed step (so the published model *is* parent +
/// delta) and keeps what compression left out as a residual, added to the next
/// round's step, so nothing the fleet learned is lost, only delayed
/// (Seide et al. 2014; Stich et al. 2018):
///
///     v        = step + residual
///     sent     = quantize(topK(v))
///     residual = v − dequantize(sent)
///
/// Only entries that are not zero are ever kept: a step is zero wherever no
/// node changed anything, and a zero costs bytes and changes nothing.
public struct StepCompressor: Sendable {
    /// How much of the step is kept.
    public struct Configuration: Sendable, Equatable, Codable {
        /// The share of each tensor's elements sent, in (0, 1]; 1 sends every
        /// entry the step (plus residual) changes.
        public var fraction: Double
        /// Whether values are int8 with per-row scales (else float32).
        public var quantize: Bool

        /// The default, 10 %, was chosen with `fedavg-benchmark`: the delta is about 5 % of
        /// the checkpoint, and the clients' loss reaches the same level as with the step
        /// applied whole (a little later in the first rounds, lower in the last).
        public init(fraction: Double = 0.1, quantize: Bool = true) {
            self.fraction = fraction
            self.quantize = quantize
        }

        /// Every changed entry as float32: the step applied as computed.
        public static let exact = Configuration(fraction: 1, quantize: false)

        /// Names the first field out of range.
        public func validate() throws(AggregationError) {
            guard fraction > 0, fraction <= 1, fraction.isFinite else {
                throw AggregationError(.invalidConfiguration, "downlink.fraction must be in (0, 1], not \(fraction)")
            }
        }
    }

    public let configuration: Configuration
    /// What has not been sent yet, by tensor name.
    public private(set) var residuals: [String: [Float]] = [:]

    public init(configuration: Configuration = Configuration()) throws(AggregationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// The compressed step for a model of `layout`, one block per tensor that changes, sorted by name.
    ///
    /// Residuals of tensors the step does not name are sent too (a step that
    /// skips an expert this round still owes it last round's remainder). A
    /// residual whose tensor changed size (an expert was added to the router)
    /// is dropped.
    public mutating func compress(_ step: [String: [Float]], layout: ModelLayout) -> [TensorDelta] {
        var blocks: [TensorDelta] = []
        for entry in layout.entries {
            let proposed = step[entry.name]
            let residual = residuals[entry.name].flatMap { $0.count == entry.elementCount ? $0 : nil }
            guard proposed != nil || residual != nil else { continue }
            var carried = proposed.flatMap { $0.count == entry.elementCount ? $0 : nil }
                ?? [Float](repeating: 0, count: entry.elementCount)
            if let residual { for index in carried.indices { carried[index] += residual[index] } }
            let nonzero = carried.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            guard nonzero > 0 else {
                residuals[entry.name] = nil
                continue
            }
            let keep = min(nonzero, TensorCompression.keepCount(fraction: configuration.fraction, of: carried.count))
            let encoded = TensorCompression.encode(
                name: entry.name, shape: entry.shape, values: carried, keep: keep, quantize: configuration.quantize)
            for (position, index) in encoded.indices.enumerated() { carried[Int(index)] -= encoded.sentValues[position] }
            residuals[entry.name] = carried.contains { $0 != 0 } ? carried : nil
            blocks.append(encoded.tensor)
        }
        return blocks
    }
}
