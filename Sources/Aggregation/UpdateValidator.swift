public import FleetWire

/// An update that passed validation, with what the aggregator needs to weigh it.
public struct ValidatedUpdate: Sendable {
    public let delta: PolicyDelta
    /// How many versions its base lags behind the current model.
    public let staleness: Int
    /// L2 norm of its difference tensors, as sent.
    public let norm: Double
    /// For each tensor of the delta, its position in the model layout (nil for additions).
    let layoutIndices: [Int?]
}

/// Checks an update against the model and the round before anything of it counts.
///
/// Shapes, finite values and sizes were already enforced by the delta decoder;
/// this adds what only the coordinator knows: the architecture, the open
/// round, the current version and the model's tensors.
public enum UpdateValidator {
    /// - Parameters:
    ///   - delta: The decoded update.
    ///   - layout: The current model's tensors.
    ///   - currentVersion: The model version updates should be based on.
    ///   - round: The open round; nil in asynchronous mode (any round).
    public static func validate(
        _ delta: PolicyDelta,
        layout: ModelLayout,
        currentVersion: UInt64,
        round: UInt64?,
        configuration: AggregationConfiguration
    ) throws(AggregationError) -> ValidatedUpdate {
        guard delta.architecture == layout.architecture else {
            throw AggregationError(
                .architectureMismatch,
                "the update is for architecture \(delta.architecture), the model is \(layout.architecture)"
            )
        }
        if let round, delta.round != round {
            throw AggregationError(.wrongRound, "the update answers round \(delta.round); round \(round) is open")
        }
        guard delta.baseVersion <= currentVersion else {
            throw AggregationError(
                .staleBaseVersion,
                "the update is based on version \(delta.baseVersion), newer than the current version \(currentVersion)"
            )
        }
        let staleness = Int(currentVersion - delta.baseVersion)
        guard staleness <= configuration.maxStaleness else {
            throw AggregationError(
                .staleBaseVersion,
                "the update is based on version \(delta.baseVersion), \(staleness) versions behind \(currentVersion) (at most \(configuration.maxStaleness) accepted)"
            )
        }
        guard delta.routingCounts.count >= layout.expertCount else {
            throw AggregationError(
                .routingCountMismatch,
                "the update has \(delta.routingCounts.count) routing counts; the model has \(layout.expertCount) experts"
            )
        }
        var squaredNorm = 0.0
        var layoutIndices: [Int?] = []
        layoutIndices.reserveCapacity(delta.tensors.count)
        for tensor in delta.tensors {
            switch tensor.role {
            case .difference:
                guard let index = layout.index(of: tensor.name) else {
                    throw AggregationError(.unknownTensor, "the model has no tensor named '\(tensor.name)'")
                }
                let entry = layout.entries[index]
                guard entry.shape == tensor.shape else {
                    throw AggregationError(
                        .shapeMismatch,
                        "tensor '\(tensor.name)' has shape \(tensor.shape); the model's is \(entry.shape)"
                    )
                }
                squaredNorm += FoldKernels.squaredNorm(of: tensor)
                layoutIndices.append(index)
            case .addition:
                guard layout.index(of: tensor.name) == nil else {
                    throw AggregationError(.shapeMismatch, "tensor '\(tensor.name)' is sent as an addition but the model already has it")
                }
                layoutIndices.append(nil)
            }
        }
        let norm = squaredNorm.squareRoot()
        if let bound = configuration.normBound, norm > bound {
            throw AggregationError(
                .normBoundExceeded,
                "the update's L2 norm is \(formatted(norm)), past the bound of \(formatted(bound))"
            )
        }
        return ValidatedUpdate(delta: delta, staleness: staleness, norm: norm, layoutIndices: layoutIndices)
    }

    private static func formatted(_ value: Double) -> String {
        String(Double((value * 1_000).rounded() / 1_000))
    }
}
