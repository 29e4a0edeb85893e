/// A moment worth keeping: something happened that the fleet should learn from.
public struct TriggerEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The ego's box overlapped another actor.
        case collision
        /// True time-to-collision fell below the threshold.
        case timeToCollision
        /// The ego decelerated harder than the threshold.
        case hardBraking
        /// The ego left the drivable surface.
        case offRoad
        /// The guardrail overruled the driver.
        case guardrailOverride
        /// The driver and the shadow teacher disagreed for several decisions in a row.
        case teacherDisagreement
        /// A bend asked more than ``TriggerConfiguration/gripShare`` of the
        /// road's grip — a stability-control event: on ice the car is about to
        /// slide, though it may not have yet, so the scene is kept before it
        /// ends off the road.
        case gripLimit
    }

    public var kind: Kind
    /// Simulation time when it fired, seconds.
    public var time: Double
    /// Simulation step when it fired.
    public var step: Int
    /// The measured quantity (TTC in s, deceleration in m/s², partner index, …).
    public var value: Double
    /// A short human-readable note (rule id, actions, partner kind).
    public var detail: String

    public init(kind: Kind, time: Double, step: Int, value: Double, detail: String) {
        self.kind = kind
        self.time = time
        self.step = step
        self.value = value
        self.detail = detail
    }
}

/// Thresholds of the triggers.
public struct TriggerConfiguration: Sendable, Codable, Equatable {
    /// Which kinds may fire.
    public var enabled: Set<TriggerEvent.Kind>
    /// TTC below this fires `timeToCollision`, seconds.
    public var timeToCollision: Double
    /// Deceleration above this fires `hardBraking`, m/s².
    public var hardBraking: Double
    /// Consecutive disagreeing decisions that fire `teacherDisagreement`.
    public var disagreementDecisions: Int
    /// Share of the available grip (μ·g) that a bend's centripetal demand
    /// v²κ must pass to fire `gripLimit` (braking alone does not: on a
    /// slippery road every stop would fire it).
    public static let gripShare = 0.85

    public init(enabled: Set<TriggerEvent.Kind> = Set(TriggerEvent.Kind.allCases), timeToCollision: Double = 1.5,
                hardBraking: Double = 6, disagreementDecisions: Int = 3) {
        self.enabled = enabled
        self.timeToCollision = timeToCollision
        self.hardBraking = hardBraking
        self.disagreementDecisions = disagreementDecisions
    }
}
