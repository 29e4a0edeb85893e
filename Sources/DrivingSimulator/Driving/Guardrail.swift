/// A fixed set of symbolic safety rules applied to any driver's decision.
///
/// Why a filter and not a driver: the policy stays whatever it learned, and
/// the rules — loaded once from `Simulator/rules/` and never changed by
/// driving — overrule it only where a rule is violated. The filter works on
/// the observation, as an onboard safety monitor would, and reports which
/// rule fired so interventions can be counted and captured.
public struct Guardrail: Sendable, Equatable {
    /// The rules, in priority order.
    public let rules: [GuardrailRule]

    public init(rules: [GuardrailRule]) {
        self.rules = rules
    }

    /// The outcome of filtering one decision.
    public struct Verdict: Sendable, Equatable {
        /// The action to execute.
        public var action: MetaAction
        /// The rule that changed the action, if any.
        public var rule: String?
        /// Whether the proposed action was overruled.
        public var intervened: Bool { rule != nil }
    }

    /// Filters `proposed` against every rule, first violation wins.
    public func filter(_ proposed: MetaAction, observation: Observation, laneWidth: Double) -> Verdict {
        for rule in rules {
            if let replacement = rule.check(proposed, observation: observation, laneWidth: laneWidth),
               replacement != proposed {
                return Verdict(action: replacement, rule: rule.id)
            }
        }
        return Verdict(action: proposed, rule: nil)
    }
}

/// One symbolic rule.
public struct GuardrailRule: Sendable, Codable, Equatable {
    /// A unique name, reported with each intervention.
    public var id: String
    public var kind: Kind
    /// The rule's threshold (seconds for TTC, metres for gaps, a fraction for the speed tolerance).
    public var threshold: Double

    public init(id: String, kind: Kind, threshold: Double) {
        self.id = id
        self.kind = kind
        self.threshold = threshold
    }

    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Observed lead time-to-collision below `threshold` seconds → BRAKE, except a
        /// lane change (steering around the lead) into a gap that is free by the
        /// emergency margin (1 m plus half a second of closing speed): braking straight
        /// on is not always the safer choice.
        case timeToCollisionBrake
        /// Never change lanes when an observed vehicle is within `threshold` metres (bumper gap)
        /// of the ego along the road in the target lane, plus one second of its closing speed.
        /// The lane change becomes IDLE, or BRAKE when the ego's own lane is closing in
        /// (lead TTC under 3 s, the lane ends within 60 m, or the ego is already braking hard).
        ///
        /// In an emergency — the ego decelerating at more than half of μ̂·g, or the
        /// observed lead under 1.5 s away — staying in lane may be the collision:
        /// an evasive lane change is then blocked only by a vehicle within 1 m plus
        /// half a second of its closing speed, and a blocked one becomes BRAKE, never
        /// IDLE (which would release the brakes).
        case occupiedGap
        /// Never go faster than the limit by more than `threshold` (a fraction, 0.1 = 10 %).
        case speedLimit
    }

    /// Bumper gap, metres, an evasive lane change needs in an emergency (plus half a second of closing speed).
    static let emergencyGap = 1.0
    /// Observed lead time-to-collision under which the ego is in an emergency, seconds.
    static let emergencyTimeToCollision = 1.5

    /// Time-to-collision with what is, or will be, in the ego's way when its front gets there
    /// at constant speeds (``Observation/corridorTimeToCollision(egoLength:laneWidth:anticipating:)``
    /// without anticipating): what braking can avoid.
    static func headOnTimeToCollision(_ observation: Observation, laneWidth: Double) -> Double {
        observation.corridorTimeToCollision(egoLength: Actor.carLength, laneWidth: laneWidth, anticipating: false)
    }

    /// Whether the observation shows an emergency: hard deceleration (over half of μ̂·g) or a lead under 1.5 s away.
    static func isEmergency(_ observation: Observation, headOnTimeToCollision ttc: Double) -> Bool {
        let grip = max(observation.frictionEstimate, 0.1) * 9.81
        return observation.egoAcceleration < -0.5 * grip || ttc < emergencyTimeToCollision
    }

    /// Whether an observed vehicle in the lane `proposed` changes into is within `gap` metres (bumper to
    /// bumper) of the ego along the road, plus `closingTime` seconds of its closing speed.
    static func targetLaneBlocked(_ proposed: MetaAction, observation: Observation, laneWidth: Double, gap: Double, closingTime: Double) -> Bool {
        let centre = (proposed == .laneLeft ? 1.0 : -1.0) * laneWidth
        for k in 0..<Observation.vehicleSlots {
            guard let other = observation.vehicle(k), abs(other.y - centre) < laneWidth / 2 + 0.5 else { continue }
            let bumperGap = other.bumperGap()
            let closing = other.x < 0 ? max(other.vx, 0) : max(-other.vx, 0)
            if bumperGap < gap + closingTime * closing { return true }
        }
        return false
    }

    /// The replacement action if `proposed` violates the rule, nil if it complies.
    func check(_ proposed: MetaAction, observation: Observation, laneWidth: Double) -> MetaAction? {
        switch kind {
        case .timeToCollisionBrake:
            guard GuardrailRule.headOnTimeToCollision(observation, laneWidth: laneWidth) < threshold, proposed != .brake else { return nil }
            let evasive = (proposed == .laneLeft || proposed == .laneRight)
                && !GuardrailRule.targetLaneBlocked(proposed, observation: observation, laneWidth: laneWidth, gap: GuardrailRule.emergencyGap, closingTime: 0.5)
            return evasive ? nil : .brake
        case .occupiedGap:
            guard proposed == .laneLeft || proposed == .laneRight else { return nil }
            let ttc = GuardrailRule.headOnTimeToCollision(observation, laneWidth: laneWidth)
            let emergency = GuardrailRule.isEmergency(observation, headOnTimeToCollision: ttc)
            let blocked = emergency
                ? GuardrailRule.targetLaneBlocked(proposed, observation: observation, laneWidth: laneWidth, gap: GuardrailRule.emergencyGap, closingTime: 0.5)
                : GuardrailRule.targetLaneBlocked(proposed, observation: observation, laneWidth: laneWidth, gap: threshold, closingTime: 1)
            guard blocked else { return nil }
            // Stay in lane; if staying means closing on something, brake instead.
            let pressed = emergency || ttc < 3 || observation.distanceToLaneEnd < 60
            return pressed ? .brake : .idle
        case .speedLimit:
            let limit = observation.speedLimit * (1 + threshold)
            if proposed == .faster && observation.targetSpeed + EgoController.speedStep > limit { return .idle }
            if observation.egoSpeed > limit && (proposed == .idle || proposed == .faster) { return .slower }
            return nil
        }
    }
}

/// Any driver seen through a guardrail; counts interventions.
public struct GuardedDriver<Base: Driver>: Driver {
    public var base: Base
    public let guardrail: Guardrail
    /// Decisions the guardrail overruled so far.
    public private(set) var interventions: Int = 0
    /// The rule that fired at the last decision, if any.
    public private(set) var lastRule: String?

    public var name: String { base.name + "+guardrail" }

    public init(_ base: Base, guardrail: Guardrail) {
        self.base = base
        self.guardrail = guardrail
        self.base.obey(guardrail)
    }

    public mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        let proposed = base.decide(observation, context: context)
        let verdict = guardrail.filter(proposed, observation: observation, laneWidth: context.world.road.laneWidth)
        lastRule = verdict.rule
        if verdict.intervened { interventions += 1 }
        return verdict.action
    }
}

extension GuardedDriver: Sendable where Base: Sendable {}
