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
        /// Observed lead time-to-collision below `threshold` seconds → BRAKE.
        case timeToCollisionBrake
        /// Never change lanes when an observed vehicle is within `threshold` metres (bumper gap)
        /// of the ego along the road in the target lane, plus one second of its closing speed.
        /// The lane change becomes IDLE, or BRAKE when the ego's own lane is closing in
        /// (lead TTC under 3 s, or the lane ends within 60 m).
        case occupiedGap
        /// Never go faster than the limit by more than `threshold` (a fraction, 0.1 = 10 %).
        case speedLimit
    }

    /// The replacement action if `proposed` violates the rule, nil if it complies.
    func check(_ proposed: MetaAction, observation: Observation, laneWidth: Double) -> MetaAction? {
        switch kind {
        case .timeToCollisionBrake:
            return observation.leadTimeToCollision < threshold && proposed != .brake ? .brake : nil
        case .occupiedGap:
            guard proposed == .laneLeft || proposed == .laneRight else { return nil }
            let centre = (proposed == .laneLeft ? 1.0 : -1.0) * laneWidth
            for k in 0..<Observation.vehicleSlots {
                guard let other = observation.vehicle(k), abs(other.y - centre) < laneWidth / 2 + 0.5 else { continue }
                let bumperGap = abs(other.x) - Actor.carLength
                // A follower closing at vx needs vx·1 s more room.
                let needed = threshold + (other.x < 0 ? max(other.vx, 0) : max(-other.vx, 0))
                if bumperGap < needed {
                    // Stay in lane; if staying means closing on something, brake instead.
                    let pressed = observation.leadTimeToCollision < 3 || observation.distanceToLaneEnd < 60
                    return pressed ? .brake : .idle
                }
            }
            return nil
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
