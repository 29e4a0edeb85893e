/// What the router did with one batch.
///
/// The coordinator weights each expert's federated average by how many samples
/// a node routed to it (an expert that saw 3 samples should not count like one
/// that saw 3,000), and the load-balancing loss is built from the same numbers.
public struct RoutingStatistics: Sendable, Equatable {
    /// Samples in the batch.
    public var batchSize: Int
    /// For each expert, how many samples chose it among their top k
    /// (sums to `batchSize · topK`).
    public var samplesPerExpert: [Int]
    /// For each expert, how many samples chose it first (sums to `batchSize`).
    public var topChoicePerExpert: [Int]
    /// For each expert, the router probability averaged over the batch (P̄_e).
    public var meanProbability: [Float]

    /// The fraction of routed slots each expert received, f_e = count_e / (B·k).
    public var loadFraction: [Float] {
        let total = samplesPerExpert.reduce(0, +)
        return samplesPerExpert.map { total > 0 ? Float($0) / Float(total) : 0 }
    }

    /// Empty statistics for `experts` experts, the start of an accumulation.
    public init(experts: Int) {
        self.init(
            batchSize: 0, samplesPerExpert: Array(repeating: 0, count: experts),
            topChoicePerExpert: Array(repeating: 0, count: experts), meanProbability: Array(repeating: 0, count: experts))
    }

    /// Statistics from explicit counts.
    public init(batchSize: Int, samplesPerExpert: [Int], topChoicePerExpert: [Int], meanProbability: [Float]) {
        self.batchSize = batchSize
        self.samplesPerExpert = samplesPerExpert
        self.topChoicePerExpert = topChoicePerExpert
        self.meanProbability = meanProbability
    }

    /// Adds another batch: counts add up, mean probabilities are weighted by batch size.
    /// This is how a node totals the samples each expert saw over a whole
    /// adaptation run before reporting them with its delta.
    ///
    /// - Throws: ``PolicyNetworkError/Code/shapeMismatch`` when the expert counts differ.
    public mutating func accumulate(_ other: RoutingStatistics) throws(PolicyNetworkError) {
        guard other.samplesPerExpert.count == samplesPerExpert.count else {
            throw PolicyNetworkError(
                .shapeMismatch, "Routing statistics for \(other.samplesPerExpert.count) experts cannot be added to \(samplesPerExpert.count).")
        }
        let total = batchSize + other.batchSize
        for e in samplesPerExpert.indices {
            samplesPerExpert[e] += other.samplesPerExpert[e]
            topChoicePerExpert[e] += other.topChoicePerExpert[e]
            meanProbability[e] = total > 0
                ? (meanProbability[e] * Float(batchSize) + other.meanProbability[e] * Float(other.batchSize)) / Float(total) : 0
        }
        batchSize = total
    }
}
