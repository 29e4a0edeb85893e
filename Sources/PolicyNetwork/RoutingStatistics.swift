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
}
