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
    /// Whether the aggregator keeps the contributors' ids itself (see ``init(layout:configuration:currentVersion:round:tracksContributors:)``).
    public let tracksContributors: Bool
    private var contributors: [String] = []
    /// The contributors' node ids, for the duplicate check (by their bytes).
    private var contributorIDs = ByteKeyTable()
    private var updatesFolded = 0
    private var samplesPerExpert: [UInt64]
    /// Families by their bytes; per family number, the updates that named it,
    /// and the last update that did (so an update counts a family once).
    private var familyNames = ByteKeyTable()
    private var familyCounts: [Int] = []
    private var familyLastUpdate: [Int] = []
    /// Scratch for validation: each tensor's position in the layout (−1 for
    /// an addition), kept from update to update instead of an array per update.
    private var layoutIndices: [Int] = []
    private var clippedUpdates = 0
    private var bestAddition: (node: String, samples: UInt64, tensors: [TensorDelta])?

    /// - Parameter tracksContributors: Whether to keep every contributor's
    ///   id, refuse a second update from one node and list them in the
    ///   result. A caller that already refuses duplicates and keeps the list
    ///   itself (the coordinator, in its database) passes false, and the
    ///   aggregator's memory stays the model's size however many nodes send.
    public init(
        layout: ModelLayout,
        configuration: AggregationConfiguration = AggregationConfiguration(),
        currentVersion: UInt64,
        round: UInt64?,
        tracksContributors: Bool = true
    ) throws(AggregationError) {
        try configuration.validate()
        self.tracksContributors = tracksContributors
        self.layout = layout
        self.configuration = configuration
        self.currentVersion = currentVersion
        self.round = round
        samplesPerExpert = Array(repeating: 0, count: layout.expertCount)
        sums = Array(repeating: [], count: layout.entries.count)
        weights = Array(repeating: 0, count: layout.entries.count)
    }

    /// Updates counted so far.
    public var updateCount: Int { updatesFolded }

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
            // Validated: every count is ≤ maxRoutingCount, so the sum cannot overflow.
            let totalSamples = delta.routingCounts.prefix(layout.expertCount).reduce(0, +)
            guard case .decoded(_, let layoutIndices) = update.source else { preconditionFailure("validated as decoded") }
            for (tensor, index) in zip(delta.tensors, layoutIndices) {
                // Additions are not averaged.
                guard let index,
                      let weight = weight(
                        samples: layout.expert(at: index).map { delta.routingCounts[$0] } ?? totalSamples, stalenessFactor: factor)
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
        let number = recordContributor(delta.nodeID)
        for expert in 0..<layout.expertCount { countSamples(delta.routingCounts[expert], expert: expert) }
        for family in delta.metadata.families { family.withUTF8Bytes { countFamily($0, update: number) } }
        if delta.routingCounts.count > layout.expertCount || bestAddition == nil {
            considerAdditions(
                from: delta.nodeID, samples: delta.routingCounts.dropFirst(layout.expertCount).reduce(0, +),
                delta.tensors.filter { $0.role == .addition })
        }
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
            delta, layout: layout, currentVersion: currentVersion, round: round, configuration: configuration,
            layoutIndices: &layoutIndices
        )
        let scale = try admit(nodeID: delta.nodeID, norm: check.norm)
        let tensorCount = delta.tensors.count
        switch configuration.rule {
        case .weightedMean:
            let factor = Double(stalenessFactor(check.staleness))
            var totalSamples: UInt64 = 0
            for expert in 0..<layout.expertCount { totalSamples += delta.routingCount(expert) }
            // Last tensor first: the scan read the container front to back, so
            // its last bytes are the ones still in L1 (each tensor's sum is
            // its own, so the order changes no value).
            for position in (0..<tensorCount).reversed() {
                let index = layoutIndices[position]
                // Additions are not averaged.
                guard index >= 0,
                      let weight = weight(
                        samples: layout.expert(at: index).map { delta.routingCount($0) } ?? totalSamples, stalenessFactor: factor)
                else { continue }
                createSumIfNeeded(index, elementCount: layout.elementCount(at: index))
                sums[index].withUnsafeMutableBufferPointer {
                    delta.accumulate(position, scaledBy: Float(weight) * scale, into: $0)
                }
                self.weights[index] += weight
            }
        case .trimmedMean, .median:
            buffered.append((delta.materialize(), scale * stalenessFactor(check.staleness)))
        }
        // Bookkeeping read straight from the container (no closure holding a copy of the delta).
        let number = recordContributor(delta.nodeID)
        for expert in 0..<layout.expertCount { countSamples(delta.routingCount(expert), expert: expert) }
        delta.forEachFamily { countFamily($0, update: number) }
        if delta.routingCountCount > layout.expertCount || bestAddition == nil {
            var added: UInt64 = 0
            for expert in layout.expertCount..<max(layout.expertCount, delta.routingCountCount) { added += delta.routingCount(expert) }
            let indices = layoutIndices
            considerAdditions(from: delta.nodeID, samples: added, (0..<tensorCount).filter { indices[$0] < 0 }.map(delta.materialize))
        }
        return ValidatedUpdate(source: .scanned(delta), staleness: check.staleness, norm: check.norm)
    }

    /// The checks that need the round's state; returns the clip factor min(1, C / ‖δ‖).
    private mutating func admit(nodeID: String, norm: Double) throws(AggregationError) -> Float {
        guard !tracksContributors || nodeID.withUTF8Bytes({ contributorIDs.find($0) }) == nil else {
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
    private func weight(samples: UInt64, stalenessFactor: Double) -> Double? {
        // Equal weights under DP keep each node's influence within the clip;
        // otherwise self-reported samples count up to the cap.
        let counted = configuration.sampleCap.map { min(samples, $0) } ?? samples
        let weight = configuration.privacy != nil ? 1 : Double(counted) * stalenessFactor
        return weight > 0 ? weight : nil
    }

    /// Adds an update's routed samples to the round's tally (saturating: the
    /// tally is a report, and no number of updates may trap it).
    private mutating func countSamples(_ samples: UInt64, expert: Int) {
        let (sum, overflow) = samplesPerExpert[expert].addingReportingOverflow(samples)
        samplesPerExpert[expert] = overflow ? .max : sum
    }

    /// Creates the running sum of layout tensor `index` at zero on first use.
    private mutating func createSumIfNeeded(_ index: Int, elementCount: Int) {
        if sums[index].isEmpty {
            sums[index] = [Float](repeating: 0, count: elementCount)
        }
    }

    /// Counts an update's sender; returns the update's number in the round.
    private mutating func recordContributor(_ nodeID: String) -> Int {
        if tracksContributors {
            contributors.append(nodeID)
            _ = nodeID.withUTF8Bytes { contributorIDs.insert($0) }
        }
        updatesFolded += 1
        return updatesFolded - 1
    }

    /// Counts family `name` (its UTF-8 bytes) for update `update`, once per
    /// update however often the update names it. Strings are made once per
    /// distinct family, in ``finalize()``.
    private mutating func countFamily(_ name: UnsafeRawBufferPointer, update: Int) {
        let (number, inserted) = familyNames.insert(name)
        if inserted {
            familyCounts.append(0)
            familyLastUpdate.append(-1)
        }
        if familyLastUpdate[number] != update {
            familyLastUpdate[number] = update
            familyCounts[number] += 1
        }
    }

    /// Keeps the proposed additions if they had the most routed samples so far.
    private mutating func considerAdditions(from nodeID: String, samples: UInt64, _ additions: [TensorDelta]) {
        guard !additions.isEmpty else { return }
        if bestAddition.map({ samples > $0.samples }) ?? true {
            bestAddition = (nodeID, samples, additions)
        }
    }

    /// The combined change of every update folded in.
    public func finalize() throws(AggregationError) -> AggregateResult {
        guard updatesFolded > 0 else {
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
            updateCount: updatesFolded,
            samplesPerExpert: samplesPerExpert,
            // Keys are distinct as bytes; two canonically equivalent spellings
            // of one name are one `String` key, so their counts are added.
            families: Dictionary((0..<familyNames.count).map { (familyNames.string($0), familyCounts[$0]) }, uniquingKeysWith: +),
            clippedUpdates: clippedUpdates,
            noiseStandardDeviation: noise
        )
    }

    /// Σ clipped updates + N(0, (zC)²) on every coordinate of the model, over the participants.
    private func privateMean(_ privacy: AggregationConfiguration.DifferentialPrivacy) -> ([String: [Float]], Double) {
        var generator = GaussianNoise(seed: privacy.seed)
        let participants = Double(updatesFolded)
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
