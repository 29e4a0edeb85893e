/// One concrete episode: a scenario family, a seed and the parameter values.
///
/// This is a gold-suite entry and what a variation is before it is built.
/// Seeds are kept below 2⁵³ so that any JSON reader keeps them exact.
public struct EpisodeSpec: Sendable, Codable, Equatable {
    /// A stable identifier, e.g. `cut-in-007`.
    public var id: String
    public var family: String
    /// Scenario file name in `Simulator/scenarios/`.
    public var scenario: String
    public var seed: UInt64
    /// Parameter values by name; parameters not listed take their midpoint.
    public var parameters: [String: Double]

    public init(id: String, family: String, scenario: String, seed: UInt64, parameters: [String: Double]) {
        self.id = id
        self.family = family
        self.scenario = scenario
        self.seed = seed
        self.parameters = parameters
    }

    /// The largest seed written to files.
    public static let seedMask: UInt64 = (1 << 53) - 1
}
