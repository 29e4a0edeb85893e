public import FleetWire

/// An update that passed validation, with what the aggregator needs to weigh it.
public struct ValidatedUpdate: Sendable {
    /// Where the update's values are: decoded arrays (with, for each tensor,
    /// its position in the model layout, nil for additions), or still in the
    /// container (the aggregator finds the positions again in its own scratch
    /// buffer: no array per update).
    enum Source: Sendable {
        case decoded(PolicyDelta, layoutIndices: [Int?])
        case scanned(ScannedDelta)
    }

    let source: Source
    /// How many versions its base lags behind the current model.
    public let staleness: Int
    /// L2 norm of its difference tensors, as sent.
    public let norm: Double

    /// The update as a decoded delta (copied out of its container if it was scanned).
    public var delta: PolicyDelta {
        switch source {
        case .decoded(let delta, _): delta
        case .scanned(let scanned): scanned.materialize()
        }
    }

    /// The sender.
    public var nodeID: String {
        switch source {
        case .decoded(let delta, _): delta.nodeID
        case .scanned(let scanned): scanned.nodeID
        }
    }
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
        let counts = delta.routingCounts
        let staleness = try checkHeader(
            architectureMatches: delta.architecture == layout.architecture, architecture: delta.architecture,
            round: delta.round, baseVersion: delta.baseVersion,
            routingCounts: counts.count, routingCount: { counts[$0] }, layout: layout, currentVersion: currentVersion, openRound: round,
            configuration: configuration)
        var squaredNorm = 0.0
        var layoutIndices: [Int?] = []
        layoutIndices.reserveCapacity(delta.tensors.count)
        for tensor in delta.tensors {
            let index = try checkTensor(name: tensor.name, role: tensor.role, layout: layout)
            if index == nil {
                try checkAddition(named: tensor.name, layout: layout, routingCounts: counts.count)
            }
            if let index {
                guard tensor.shape == layout.entries[index].shape else {
                    throw shapeMismatch(tensor.name, tensor.shape, layout.entries[index].shape)
                }
                squaredNorm += FoldKernels.squaredNorm(of: tensor)
            }
            layoutIndices.append(index)
        }
        let norm = try checkNorm(squaredNorm, configuration: configuration)
        return ValidatedUpdate(source: .decoded(delta, layoutIndices: layoutIndices), staleness: staleness, norm: norm)
    }

    /// Validates a scanned update; its norm comes from the norms the scan
    /// computed, so no value is read again.
    public static func validate(
        _ delta: ScannedDelta,
        layout: ModelLayout,
        currentVersion: UInt64,
        round: UInt64?,
        configuration: AggregationConfiguration
    ) throws(AggregationError) -> ValidatedUpdate {
        var layoutIndices: [Int] = []
        let check = try check(
            delta, layout: layout, currentVersion: currentVersion, round: round, configuration: configuration,
            layoutIndices: &layoutIndices)
        return ValidatedUpdate(source: .scanned(delta), staleness: check.staleness, norm: check.norm)
    }

    /// What validation finds out about a scanned update, without wrapping it.
    struct Check {
        let staleness: Int
        let norm: Double
    }

    /// Checks a scanned update, writing each tensor's position in the layout
    /// (−1 for an addition) into `layoutIndices`, a buffer the caller keeps
    /// from update to update. Names are looked up and the architecture
    /// compared as the container's bytes; no string is built unless an error
    /// needs one.
    static func check(
        _ delta: ScannedDelta,
        layout: ModelLayout,
        currentVersion: UInt64,
        round: UInt64?,
        configuration: AggregationConfiguration,
        layoutIndices: inout [Int]
    ) throws(AggregationError) -> Check {
        let staleness = try checkHeader(
            architectureMatches: delta.hasArchitecture(layout.architecture), architecture: delta.architecture,
            round: delta.round, baseVersion: delta.baseVersion,
            routingCounts: delta.routingCountCount, routingCount: delta.routingCount, layout: layout, currentVersion: currentVersion,
            openRound: round, configuration: configuration)
        var squaredNorm = 0.0
        let count = delta.tensors.count
        if layoutIndices.count < count { layoutIndices.append(contentsOf: repeatElement(-1, count: count - layoutIndices.count)) }
        for position in 0..<count {
            let found = delta.layoutIndex(ofTensor: position, in: layout)
            switch delta.tensors[position].role {
            case .difference:
                guard let index = found else {
                    throw AggregationError(.unknownTensor, "the model has no tensor named '\(delta.name(ofTensor: position))'")
                }
                guard delta.tensor(position, hasShapeOf: index, in: layout) else {
                    throw shapeMismatch(delta.name(ofTensor: position), delta.tensors[position].shape, layout.entries[index].shape)
                }
                squaredNorm += delta.tensors[position].squaredNorm
                layoutIndices[position] = index
            case .addition:
                guard found == nil else {
                    throw AggregationError(.shapeMismatch, "tensor '\(delta.name(ofTensor: position))' is sent as an addition but the model already has it")
                }
                try checkAddition(named: delta.name(ofTensor: position), layout: layout, routingCounts: delta.routingCountCount)
                layoutIndices[position] = -1
            }
        }
        let norm = try checkNorm(squaredNorm, configuration: configuration)
        return Check(staleness: staleness, norm: norm)
    }

    /// Architecture, round, base version and routing counts; returns the staleness.
    private static func checkHeader(
        architectureMatches: Bool, architecture: @autoclosure () -> String, round deltaRound: UInt64, baseVersion: UInt64, routingCounts: Int,
        routingCount: (Int) -> UInt64,
        layout: ModelLayout, currentVersion: UInt64, openRound round: UInt64?, configuration: AggregationConfiguration
    ) throws(AggregationError) -> Int {
        guard architectureMatches else {
            throw AggregationError(
                .architectureMismatch,
                "the update is for architecture \(architecture()), the model is \(layout.architecture)"
            )
        }
        if let round, deltaRound != round {
            throw AggregationError(.wrongRound, "the update answers round \(deltaRound); round \(round) is open")
        }
        guard baseVersion >= 1 else {
            throw AggregationError(.implausibleValue, "the update is based on version 0; versions are numbered from 1")
        }
        guard baseVersion <= currentVersion else {
            throw AggregationError(
                .staleBaseVersion,
                "the update is based on version \(baseVersion), newer than the current version \(currentVersion)"
            )
        }
        let staleness = Int(clamping: currentVersion - baseVersion)
        guard staleness <= configuration.maxStaleness else {
            throw AggregationError(
                .staleBaseVersion,
                "the update is based on version \(baseVersion), \(staleness) versions behind \(currentVersion) (at most \(configuration.maxStaleness) accepted)"
            )
        }
        guard routingCounts >= layout.expertCount else {
            throw AggregationError(
                .routingCountMismatch,
                "the update has \(routingCounts) routing counts; the model has \(layout.expertCount) experts"
            )
        }
        let added = routingCounts - layout.expertCount
        if added > 0 {
            guard added <= configuration.maxAddedExperts else {
                throw AggregationError(
                    .invalidAddition,
                    "the update adds \(added) experts; at most \(configuration.maxAddedExperts) may be added by one update"
                )
            }
            guard routingCounts <= configuration.maxExperts else {
                throw AggregationError(
                    .invalidAddition,
                    "the update would grow the model to \(routingCounts) experts; at most \(configuration.maxExperts) are allowed"
                )
            }
        }
        // Every count is bounded, so no sum of them (at most 2¹² × 2⁴⁸ per update) can overflow.
        for expert in 0..<routingCounts {
            let count = routingCount(expert)
            guard count <= configuration.maxRoutingCount else {
                throw AggregationError(
                    .implausibleValue,
                    "the update routes \(count) samples to expert \(expert); at most \(configuration.maxRoutingCount) are plausible"
                )
            }
            if expert >= layout.expertCount && count == 0 {
                throw AggregationError(
                    .invalidAddition,
                    "the update adds expert \(expert) but routes no sample to it; an expert no state is routed to is not a lesson"
                )
            }
        }
        return staleness
    }

    /// An added tensor must belong to one of the experts the update's routing counts add.
    private static func checkAddition(named name: String, layout: ModelLayout, routingCounts: Int) throws(AggregationError) {
        guard let expert = ModelLayout.expertIndex(ofTensorNamed: name), expert >= layout.expertCount, expert < routingCounts else {
            throw AggregationError(
                .invalidAddition,
                "tensor '\(name)' is sent as an addition but is not part of an expert the update adds (the model has \(layout.expertCount), the update counts \(routingCounts))"
            )
        }
    }

    /// The tensor's position in the layout (nil for an addition), after checking its name.
    private static func checkTensor(name: String, role: TensorDelta.Role, layout: ModelLayout) throws(AggregationError) -> Int? {
        switch role {
        case .difference:
            guard let index = layout.index(of: name) else {
                throw AggregationError(.unknownTensor, "the model has no tensor named '\(name)'")
            }
            return index
        case .addition:
            guard layout.index(of: name) == nil else {
                throw AggregationError(.shapeMismatch, "tensor '\(name)' is sent as an addition but the model already has it")
            }
            return nil
        }
    }

    private static func shapeMismatch(_ name: String, _ shape: [Int], _ expected: [Int]) -> AggregationError {
        AggregationError(.shapeMismatch, "tensor '\(name)' has shape \(shape); the model's is \(expected)")
    }

    /// The largest L2 norm any update may have, whatever the configuration.
    ///
    /// No lesson comes near it (real ones are about 10); below it, a round's
    /// Float sums cannot overflow: weight ≤ 2⁴⁸ samples × 10⁶ × 10⁶ updates < 3.4 × 10³⁸.
    public static let absoluteNormLimit: Double = 1e6

    private static func checkNorm(_ squaredNorm: Double, configuration: AggregationConfiguration) throws(AggregationError) -> Double {
        let norm = squaredNorm.squareRoot()
        guard norm.isFinite, norm <= absoluteNormLimit else {
            throw AggregationError(
                .implausibleValue,
                "the update's L2 norm is \(norm); no lesson's exceeds \(absoluteNormLimit)"
            )
        }
        if let bound = configuration.normBound, norm > bound {
            throw AggregationError(
                .normBoundExceeded,
                "the update's L2 norm is \(formatted(norm)), past the bound of \(formatted(bound))"
            )
        }
        return norm
    }

    private static func formatted(_ value: Double) -> String {
        String(Double((value * 1_000).rounded() / 1_000))
    }
}
