/// Anything that drives: observation in, meta-action out.
///
/// The neural policy (in another module), the privileged teacher, the
/// IDM/MOBIL baseline and the guardrail filter all conform, so evaluation,
/// captures and DAgger labelling treat them alike. A driver is asked once per
/// decision period. Drivers that learn from the observation must not read
/// `context.world`: it is the true state, there for privileged drivers (the
/// teacher) and for safety filters that model ideal perception.
public protocol Driver {
    /// A short name for tables and captures.
    var name: String { get }
    /// The decision for this period.
    mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction
    /// Tells the driver the safety rules its decisions will be filtered through
    /// (a driver that plans can keep to them; the default ignores them).
    mutating func obey(_ guardrail: Guardrail)
}

extension Driver {
    public mutating func obey(_ guardrail: Guardrail) {}
}

/// What a driver may know besides its observation.
public struct DriverContext: Sendable {
    /// The true world state (privileged).
    public let world: World
    /// Simulation steps per decision.
    public let decisionSteps: Int

    public init(world: World, decisionSteps: Int) {
        self.world = world
        self.decisionSteps = decisionSteps
    }
}

/// A driver that always returns the same action (tests, benchmarks).
public struct ConstantDriver: Driver, Sendable {
    public let action: MetaAction
    public var name: String { "constant-\(action)" }
    public init(_ action: MetaAction) { self.action = action }
    public func decide(_ observation: Observation, context: DriverContext) -> MetaAction { action }
}
