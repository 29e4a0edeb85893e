public import FleetWire

/// Folds a round's updates into one change to the model as they arrive.
///
/// With the default rule (per-expert weighted mean) every update is added at
/// once into running sums and dropped, so memory is the size of the touched
/// tensors — O(model) — however many nodes report:
///
///     Δ_t = Σ_n w_{n,t} · δ_{n,t} / Σ_n w_{n,t}
///
/// where w_{n,t} is the number of samples node n routed to tensor t's expert
/// (all its samples for shared tensors such as the router), times the
/// staleness factor (1 + τ)^−a and the clip factor min(1, C / ‖δ_n‖). An
/// expert no node touched gets no entry and stays as it is.
///
/// The robust rules (trimmed mean, median) need every value of a coordinate at
/// once; they keep up to `bufferCapacity` updates (sparse as sent) and combine
/// them, per tensor, over the nodes that touched it, unweighted.
///
/// Added experts are not averaged (two nodes' new experts are different
/// experts): the proposal whose new expert had the most routed samples wins.
///
/// The coordinator's fast path is ``DeltaCodec/scan(_:limits:)`` followed by
/// `add(_: ScannedDelta)`: the scan checks the container and computes the
/// norms in one pass, and the fold reads the values straight from the
/// container, so an update is read about twice and copied never
/// (`BENCHMARKS.md`, "Aggregation").
public struct RoundAggregator: Sendable {
    public let layout: ModelLayout
    public let configuration: AggregationConfiguration
    public let currentVersion: UInt64
    /// The open round; nil in asynchronous mode.
    public let round: UInt64?

    /// Running weighted sums and total weights, by position in the layout
    /// (an empty array until some update touches that tensor).
    private var sums: [[Float]]
    private var weights: [Double]
    private var buffered: [(delta: PolicyDelta, scale: Float)] = []
    private var contributors: [String] = []
    private var contributorSet: Set<String> = []
    private var samplesPerExpert: [UInt64]
    private var families: [String: Int] = [:]
    private var clippedUpdates = 0
    private var bestAddition: (node: String, samples: UInt64, tensors: [TensorDelta])?

    public init(
        layout: ModelLayout,
        configuration: AggregationConfiguration = AggregationConfiguration(),
        currentVersion: UInt64,
        round: UInt64?
    ) throws(AggregationError) {
        try configuration.validate()
        self.layout = layout
        self.configuration = configuration
        self.currentVersion = currentVersion
        self.round = round
        samplesPerExpert = Array(repeating: 0, count: layout.expertCount)
        sums = Array(repeating: [], count: layout.entries.count)
        weights = Array(repeating: 0, count: layout.entries.count)
    }

    /// Updates counted so far.
    public var updateCount: Int { contributors.count }

    /// Validates `delta` and folds it in.
    ///
    /// - Returns: The validated update (its staleness and norm).
    /// - Throws: ``AggregationError``; a refused update changes nothing.
    @discardableResult
    public mutating func add(_ delta: PolicyDelta) throws(AggregationError) -> ValidatedUpdate {
        let update = try UpdateValidator.validate(
            delta, layout: layout, currentVersion: currentVersion, round: round, configuration: configuration
        )
        let scale = try admit(nodeID: delta.nodeID, norm: update.norm)
        switch configuration.rule {
        case .weightedMean:
            let factor = Double(stalenessFactor(update.staleness))
            let totalSamples = delta.routingCounts.prefix(layout.expertCount).reduce(0, +)
            for (tensor, index) in zip(delta.tensors, update.layoutIndices) {
                // Additions are not averaged.
                guard let index,
                      let weight = weight(ofTensor: index, routingCounts: delta.routingCounts, totalSamples: totalSamples, stalenessFactor: factor)
                else { continue }
                createSumIfNeeded(index, elementCount: tensor.elementCount)
                // Mutated in place: no copy of the running sum.
                sums[index].withUnsafeMutableBufferPointer {
                    FoldKernels.fold(tensor, weight: Float(weight) * scale, into: $0)
                }
                self.weights[index] += weight
            }
        case .trimmedMean, .median:
            buffered.append((delta, scale * stalenessFactor(update.staleness)))
        }
        record(
            nodeID: delta.nodeID, routingCounts: delta.routingCounts, families: delta.metadata.families,
            additions: { delta.tensors.filter { $0.role == .addition } })
        return update
    }

    /// Validates a scanned container and folds its values in straight from the container.
    ///
    /// The fast path of the coordinator: ``DeltaCodec/scan(_:limits:)`` has
    /// checked the bytes and computed the norms, so each value is read once
    /// more here, by the fold, and never copied.
    ///
    /// - Returns: The validated update (its staleness and norm).
    /// - Throws: ``AggregationError``; a refused update changes nothing.
    @discardableResult
    public mutating func add(_ delta: ScannedDelta) throws(AggregationError) -> ValidatedUpdate {
        let check = try UpdateValidator.check(
            delta, layout: layout, currentVersion: currentVersion, round: round, configuration: configuration
        )
        let scale = try admit(nodeID: delta.nodeID, norm: check.norm)
        switch configuration.rule {
        case .weightedMean:
            let factor = Double(stalenessFactor(check.staleness))
            let totalSamples = delta.routingCounts.prefix(layout.expertCount).reduce(0, +)
            for (position, index) in check.layoutIndices.enumerated() {
                // Additions are not averaged.
                guard let index,
                      let weight = weight(ofTensor: index, routingCounts: delta.routingCounts, totalSamples: totalSamples, stalenessFactor: factor)
                else { continue }
                createSumIfNeeded(index, elementCount: layout.entries[index].elementCount)
                sums[index].withUnsafeMutableBufferPointer {
                    delta.accumulate(position, scaledBy: Float(weight) * scale, into: $0)
                }
                self.weights[index] += weight
            }
        case .trimmedMean, .median:
            buffered.append((delta.materialize(), scale * stalenessFactor(check.staleness)))
        }
        let additions = check.layoutIndices.indices.filter { check.layoutIndices[$0] == nil }
        record(
            nodeID: delta.nodeID, routingCounts: delta.routingCounts, families: delta.families,
            additions: { additions.map(delta.materialize) })
        return ValidatedUpdate(source: .scanned(delta), staleness: check.staleness, norm: check.norm, layoutIndices: check.layoutIndices)
    }

    /// The checks that need the round's state; returns the clip factor min(1, C / ‖δ‖).
    private mutating func admit(nodeID: String, norm: Double) throws(AggregationError) -> Float {
        guard !contributorSet.contains(nodeID) else {
            throw AggregationError(.duplicateNode, "node \(nodeID) already contributed to this round")
        }
        if configuration.rule != .weightedMean && buffered.count >= configuration.bufferCapacity {
            throw AggregationError(.bufferFull, "the round already holds \(buffered.count) updates, the robust rule's capacity")
        }
        let clip = configuration.privacy?.clipNorm ?? configuration.clipNorm
        if let clip, norm > clip {
            clippedUpdates += 1
            return Float(clip / norm)
        }
        return 1
    }

    /// (1 + τ)^−a.
    private func stalenessFactor(_ staleness: Int) -> Float {
        Float(pow(1 + Double(staleness), -configuration.stalenessExponent))
    }

    /// The weight of layout tensor `index` for an update: its expert's routed
    /// samples (all samples for shared tensors) times the staleness factor,
    /// 1 under DP; nil when the weight is zero.
    private func weight(ofTensor index: Int, routingCounts: [UInt64], totalSamples: UInt64, stalenessFactor: Double) -> Double? {
        let weight: Double
        if configuration.privacy != nil {
            weight = 1  // equal weights keep each node's influence within the clip
        } else if let expert = layout.entries[index].expert {
            weight = Double(routingCounts[expert]) * stalenessFactor
        } else {
            weight = Double(totalSamples) * stalenessFactor
        }
        return weight > 0 ? weight : nil
    }

    /// Creates the running sum of layout tensor `index` at zero on first use.
    private mutating func createSumIfNeeded(_ index: Int, elementCount: Int) {
        if sums[index].isEmpty {
            sums[index] = [Float](repeating: 0, count: elementCount)
        }
    }

    /// Bookkeeping once an update counts: contributors, routed samples, families, additions.
    private mutating func record(
        nodeID: String, routingCounts: [UInt64], families updateFamilies: [String], additions: () -> [TensorDelta]
    ) {
        contributors.append(nodeID)
        contributorSet.insert(nodeID)
        for expert in 0..<layout.expertCount { samplesPerExpert[expert] += routingCounts[expert] }
        for family in Set(updateFamilies) { families[family, default: 0] += 1 }
        if routingCounts.count > layout.expertCount || bestAddition == nil {
            let additions = additions()
            if !additions.isEmpty {
                let added = routingCounts.dropFirst(layout.expertCount).reduce(0, +)
                if bestAddition.map({ added > $0.samples }) ?? true {
                    bestAddition = (nodeID, added, additions)
                }
            }
        }
    }

    /// The combined change of every update folded in.
    public func finalize() throws(AggregationError) -> AggregateResult {
        guard !contributors.isEmpty else {
            throw AggregationError(.emptyRound, "no update was accepted in this round")
        }
        var mean: [String: [Float]]
        var noise: Double?
        switch configuration.rule {
        case .weightedMean:
            if let privacy = configuration.privacy {
                (mean, noise) = privateMean(privacy)
            } else {
                mean = [:]
                for (index, sum) in sums.enumerated() where !sum.isEmpty {
                    let weight = Float(weights[index])
                    mean[layout.entries[index].name] = sum.map { $0 / weight }
                }
            }
        case .trimmedMean(let fraction):
            mean = robustCombine { CoordinateStatistics.trimmedMean(&$0, fraction: fraction) }
        case .median:
            mean = robustCombine { CoordinateStatistics.median(&$0) }
        }
        return AggregateResult(
            meanDelta: mean,
            additions: bestAddition?.tensors ?? [],
            additionProposer: bestAddition?.node,
            contributors: contributors,
            samplesPerExpert: samplesPerExpert,
            families: families,
            clippedUpdates: clippedUpdates,
            noiseStandardDeviation: noise
        )
    }

    /// Σ clipped updates + N(0, (zC)²) on every coordinate of the model, over the participants.
    private func privateMean(_ privacy: AggregationConfiguration.DifferentialPrivacy) -> ([String: [Float]], Double) {
        var generator = GaussianNoise(seed: privacy.seed)
        let participants = Double(contributors.count)
        let standardDeviation = privacy.noiseMultiplier * privacy.clipNorm
        var mean: [String: [Float]] = [:]
        for (index, entry) in layout.entries.enumerated() {
            var sum = sums[index].isEmpty ? [Float](repeating: 0, count: entry.elementCount) : sums[index]
            for index in sum.indices {
                sum[index] = Float((Double(sum[index]) + standardDeviation * generator.next()) / participants)
            }
            mean[entry.name] = sum
        }
        return (mean, standardDeviation / participants)
    }

    /// Per tensor, per coordinate, `statistic` over the buffered updates that touched the tensor.
    private func robustCombine(_ statistic: (inout [Float]) -> Float) -> [String: [Float]] {
        var byTensor: [String: [(TensorDelta, Float)]] = [:]
        for (delta, scale) in buffered {
            for tensor in delta.tensors where tensor.role == .difference {
                byTensor[tensor.name, default: []].append((tensor, scale))
            }
        }
        var result: [String: [Float]] = [:]
        for (name, updates) in byTensor {
            let count = updates[0].0.elementCount
            // One row per update, expanded once; then a column per coordinate.
            var matrix = [Float](repeating: 0, count: updates.count * count)
            matrix.withUnsafeMutableBufferPointer { buffer in
                for (row, (tensor, scale)) in updates.enumerated() {
                    let slice = UnsafeMutableBufferPointer(rebasing: buffer[(row * count)..<((row + 1) * count)])
                    FoldKernels.fold(tensor, weight: scale, into: slice)
                }
            }
            var column = [Float](repeating: 0, count: updates.count)
            var combined = [Float](repeating: 0, count: count)
            for index in 0..<count {
                for row in 0..<updates.count { column[row] = matrix[row * count + index] }
                combined[index] = statistic(&column)
            }
            result[name] = combined
        }
        return result
    }
}

/// Coordinate-wise robust statistics over one coordinate's values.
enum CoordinateStatistics {
    static func median(_ values: inout [Float]) -> Float {
        values.sort()
        let middle = values.count / 2
        return values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
    }

    /// The mean after dropping ⌊fraction·n⌋ values from each end.
    static func trimmedMean(_ values: inout [Float], fraction: Double) -> Float {
        values.sort()
        let drop = Int(fraction * Double(values.count))
        let kept = values[drop..<(values.count - drop)]
        return kept.reduce(0, +) / Float(kept.count)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
