public import DrivingSimulator
import PolicyNetwork

/// What the node decided for one frame of a real vehicle's feed.
public struct FrameDecision: Sendable, Equatable, Codable {
    public var time: Double
    /// The action after the guardrail.
    public var action: MetaAction
    /// The policy's own proposal.
    public var proposed: MetaAction
    /// The guardrail rule that overruled the policy, if any.
    public var guardrailRule: String?
    /// The model version that decided; nil while the node has none.
    public var modelVersion: UInt64?

    enum CodingKeys: String, CodingKey {
        case time, action, proposed
        case guardrailRule = "guardrail_rule"
        case modelVersion = "model_version"
    }

    public init(time: Double, action: MetaAction, proposed: MetaAction, guardrailRule: String?, modelVersion: UInt64?) {
        self.time = time
        self.action = action
        self.proposed = proposed
        self.guardrailRule = guardrailRule
        self.modelVersion = modelVersion
    }

    /// Actions travel by name (`"BRAKE"`), which a vehicle stack reads without knowing the enum's numbering.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func action(_ key: CodingKeys) throws -> MetaAction {
            let name = try container.decode(String.self, forKey: key)
            guard let action = MetaAction(name: name) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "unknown action '\(name)'")
            }
            return action
        }
        time = try container.decode(Double.self, forKey: .time)
        self.action = try action(.action)
        proposed = try action(.proposed)
        guardrailRule = try container.decodeIfPresent(String.self, forKey: .guardrailRule)
        modelVersion = try container.decodeIfPresent(UInt64.self, forKey: .modelVersion)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time, forKey: .time)
        try container.encode(action.description, forKey: .action)
        try container.encode(proposed.description, forKey: .proposed)
        try container.encode(guardrailRule, forKey: .guardrailRule)
        try container.encode(modelVersion, forKey: .modelVersion)
    }
}

/// Drives on a real vehicle's frames: the policy and the guardrail decide,
/// the triggers that can be judged from an observation fire, and scenes
/// become captures.
///
/// Why not ``EpisodeRunner``: a real car is not a simulator world the node can
/// step. What it has is the observation, and sometimes a reconstructed scene.
/// The triggers judged here are the ones an onboard monitor can see — a
/// guardrail override, an observed lead time-to-collision under the
/// threshold, braking harder than the threshold, and, from a scene, a
/// collision or leaving the road. Each kind fires at most once per
/// `refractorySeconds`, so one incident is one capture. The capture's
/// snapshot is the newest scene at least `captureLead` seconds older than the
/// trigger (the same lead the simulator uses), so its replay starts before
/// the incident.
struct FeedDriver {
    let live: LivePolicy
    let guardrail: Guardrail?
    let triggers: TriggerConfiguration
    let captureLead: Double
    let refractorySeconds: Double
    let seed: UInt64
    private let workspace = InferenceWorkspace()
    private var scenes: [(time: Double, world: World)] = []
    private var lastFired: [TriggerEvent.Kind: Double] = [:]
    private var lastTime = -Double.infinity
    private(set) var frames = 0
    /// Triggers that fired on frames with no scene to capture.
    private(set) var triggersWithoutScene = 0

    init(live: LivePolicy, guardrail: Guardrail?, triggers: TriggerConfiguration, captureLead: Double = 2,
         refractorySeconds: Double = 5, seed: UInt64) {
        self.live = live
        self.guardrail = guardrail
        self.triggers = triggers
        self.captureLead = captureLead
        self.refractorySeconds = refractorySeconds
        self.seed = seed
    }

    /// Decides on one frame and returns the captures its triggers produced.
    ///
    /// - Throws: ``AgentError/Code/invalidObservation`` when the frame's time runs backwards.
    mutating func process(_ frame: ObservationFrame, line: Int) throws(AgentError) -> (FrameDecision, [Capture]) {
        guard frame.time >= lastTime else {
            throw AgentError(.invalidObservation,
                             "observation line \(line): time \(frame.time) is earlier than the previous frame's \(lastTime)",
                             context: ["line": "\(line)", "field": "time"])
        }
        lastTime = frame.time
        frames += 1
        let snapshot = live.snapshot
        var proposed = MetaAction.idle
        if let snapshot, let result = try? snapshot.policy.infer(frame.observation.values, workspace: workspace) {
            proposed = MetaAction(rawValue: result.action) ?? .idle
        }
        var action = proposed
        var rule: String?
        if let guardrail {
            let verdict = guardrail.filter(proposed, observation: frame.observation, laneWidth: frame.laneWidth)
            action = verdict.action
            rule = verdict.rule
        }
        if let scene = frame.scene {
            scenes.append((frame.time, scene))
            // Keep what a capture lead can reach, plus one older scene.
            while scenes.count > 2, scenes[1].time <= frame.time - captureLead { scenes.removeFirst() }
        }

        var events: [(TriggerEvent.Kind, Double, String)] = []
        if let rule { events.append((.guardrailOverride, Double(action.rawValue), "\(rule): \(proposed) → \(action)")) }
        let ttc = frame.observation.leadTimeToCollision
        if ttc < triggers.timeToCollision { events.append((.timeToCollision, ttc, "observed lead")) }
        let deceleration = -Double(frame.observation.values[4]) * 10
        if deceleration > triggers.hardBraking { events.append((.hardBraking, deceleration, "")) }
        if let scene = frame.scene {
            if scene.egoCollided { events.append((.collision, Double(scene.collisionPartner), "scene")) }
            if scene.egoOffRoad { events.append((.offRoad, scene.ego.d, "scene")) }
        }

        var captures: [Capture] = []
        for (kind, value, detail) in events where triggers.enabled.contains(kind) {
            if let last = lastFired[kind], frame.time - last < refractorySeconds { continue }
            lastFired[kind] = frame.time
            guard let start = scenes.last(where: { $0.time <= frame.time - captureLead + 1e-9 }) ?? scenes.first else {
                triggersWithoutScene += 1
                continue
            }
            let triggerTime = start.world.time + (frame.time - start.time)
            let event = TriggerEvent(kind: kind, time: triggerTime, step: frames, value: value, detail: detail)
            captures.append(Capture(
                trigger: event,
                seed: DrivingSimulator.SeededGenerator.mix(seed, UInt64(frames)) & EpisodeSpec.seedMask, episode: nil,
                driver: snapshot.map { "policy-v\($0.version)" } ?? "policy", decisionSteps: 3,
                guardrail: guardrail?.rules, shadowTeacher: false, triggers: triggers, snapshot: start.world,
                variationRanges: VariationRanges()))
        }
        let decision = FrameDecision(time: frame.time, action: action, proposed: proposed, guardrailRule: rule, modelVersion: snapshot?.version)
        return (decision, captures)
    }
}
