public import DrivingSimulator
public import PolicyNetwork

/// The mixture-of-experts policy as a simulator ``Driver``.
///
/// The simulator, its evaluator, captures and DAgger labelling all speak
/// `Driver`; wrapping the policy here lets every one of them run the neural
/// model unchanged. Each decision is one batch-1 ``MoEPolicy/infer(_:workspace:)``
/// into a workspace owned by the driver, so driving allocates nothing per tick.
/// Besides the action the driver keeps what the router did — the expert it
/// chose, its gate and the router entropy — because a node's triggers ("the
/// router is unsure") and its per-expert statistics are built from them.
///
/// The driver reads only the observation, never `context.world`.
public struct PolicyDriver: Driver {
    /// The policy that drives (a value: replacing it swaps the model).
    public var policy: MoEPolicy
    public let name: String
    /// The router's view of the last decision, nil before the first.
    public private(set) var lastInference: InferenceResult?
    /// How many decisions each expert was ranked first for.
    public private(set) var topExpertCounts: [Int]
    /// The highest router entropy seen, nats.
    public private(set) var maxRouterEntropy: Float = 0
    /// Decisions made so far.
    public private(set) var decisions = 0
    let workspace = InferenceWorkspace()

    /// A driver for `policy`.
    ///
    /// - Throws: ``EvaluationError/Code/incompatiblePolicy`` when the policy does
    ///   not read `Observation.size` inputs or emit `MetaAction.count` logits.
    public init(policy: MoEPolicy, name: String = "policy") throws(EvaluationError) {
        try policy.architecture.validateForDriving()
        self.policy = policy
        self.name = name
        topExpertCounts = Array(repeating: 0, count: policy.experts.count)
    }

    public mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        // The shape was checked in init and an observation always has Observation.size values.
        let result = try! policy.infer(observation.values, workspace: workspace)
        lastInference = result
        decisions += 1
        if result.topExpert < topExpertCounts.count { topExpertCounts[result.topExpert] += 1 }
        maxRouterEntropy = max(maxRouterEntropy, result.routerEntropy)
        return MetaAction(rawValue: result.action) ?? .idle
    }
}
