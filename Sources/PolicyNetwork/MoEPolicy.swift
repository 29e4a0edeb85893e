/// The fleet's policy: a sparse mixture of experts.
///
/// A router (linear → softmax over E experts) scores every observation; only
/// the top-k experts are evaluated, and their outputs are mixed with the router
/// probabilities renormalized over the chosen k:
///
///     p = softmax(W_r x + b_r),  S = top-k(p),  g_i = p_i / Σ_{j∈S} p_j,
///     y = Σ_{i∈S} g_i · expert_i(x).
///
/// With k = 1 the renormalized gate would always be 1 and give the router no
/// gradient, so for k = 1 the gate is p_i itself, as in the Switch Transformer.
///
/// Sparsity is the point: a scene only costs k experts, and a node that met ice
/// adapts only the experts ice is routed to. The policy is a value (all
/// parameters in `Tensor`s), so a copy is a snapshot; per-expert training flags
/// and pruning masks travel with their expert when experts are added or removed.
public struct MoEPolicy: Sendable, Equatable {
    /// The shape; `experts` follows additions and removals.
    public private(set) var architecture: PolicyArchitecture
    /// Router: `[experts, inputs]` weight and `[experts]` bias.
    public internal(set) var router: Linear
    /// The experts, indexed as the router's outputs.
    public internal(set) var experts: [ExpertMLP]
    /// Whether the optimizer may change the router.
    public var isRouterTrainable: Bool = true
    /// Whether the optimizer may change each expert (same indices as ``experts``).
    public internal(set) var expertIsTrainable: [Bool]
    /// Pruning masks, nil for unpruned experts (same indices as ``experts``).
    public internal(set) var masks: [ExpertMask?]

    /// A freshly initialized policy; the same seed gives bit-identical weights.
    ///
    /// The router and expert i draw from independent streams derived from
    /// `seed`, so expert i's initial weights do not depend on how many experts
    /// there are.
    public init(architecture: PolicyArchitecture, seed: UInt64) throws(PolicyNetworkError) {
        try architecture.validate()
        self.architecture = architecture
        var routerGenerator = SeededGenerator(seed: SeededGenerator.mix(seed, 0))
        router = Linear(
            inputs: architecture.inputs, outputs: architecture.experts, initialization: .xavier,
            generator: &routerGenerator)
        experts = (0..<architecture.experts).map {
            ExpertMLP(architecture: architecture, seed: SeededGenerator.mix(seed, UInt64($0) + 1))
        }
        expertIsTrainable = Array(repeating: true, count: architecture.experts)
        masks = Array(repeating: nil, count: architecture.experts)
    }

    /// A policy with the given parameters (every tensor the architecture needs, and no other).
    ///
    /// - Throws: ``PolicyNetworkError/Code/missingParameter``,
    ///   ``PolicyNetworkError/Code/unknownParameter`` or ``PolicyNetworkError/Code/shapeMismatch``.
    public init(architecture: PolicyArchitecture, parameters: ParameterSet) throws(PolicyNetworkError) {
        try architecture.validate()
        self.architecture = architecture
        router = Linear(inputs: architecture.inputs, outputs: architecture.experts)
        experts = Array(repeating: ExpertMLP(architecture: architecture), count: architecture.experts)
        expertIsTrainable = Array(repeating: true, count: architecture.experts)
        masks = Array(repeating: nil, count: architecture.experts)
        try load(parameters)
    }

    // MARK: Names

    /// The name prefix of expert `index`'s tensors: `experts.<index>.`.
    public static func expertPrefix(_ index: Int) -> String { "experts.\(index)." }

    /// The expert a parameter name belongs to (`experts.3.fc1.weight` → 3), nil for the router.
    public static func expertIndex(ofParameter name: String) -> Int? {
        guard name.hasPrefix("experts.") else { return nil }
        return Int(name.dropFirst("experts.".count).prefix { $0 != "." })
    }

    /// The parameter names in canonical order: router weight and bias, then
    /// per expert fc1 weight, fc1 bias, fc2 weight, fc2 bias.
    public var parameterNames: [String] {
        var names = ["router.weight", "router.bias"]
        for e in experts.indices {
            let p = Self.expertPrefix(e)
            names += [p + "fc1.weight", p + "fc1.bias", p + "fc2.weight", p + "fc2.bias"]
        }
        return names
    }

    /// The total number of scalar parameters.
    public var parameterCount: Int {
        router.weight.count + router.bias.count
            + experts.reduce(0) { $0 + $1.fc1.weight.count + $1.fc1.bias.count + $1.fc2.weight.count + $1.fc2.bias.count }
    }

    // MARK: Export and load

    /// All parameters as named tensors in canonical order.
    public func parameterSet() -> ParameterSet {
        var set = ParameterSet()
        forEachTensor { name, tensor in try! set.append(name, tensor) }
        return set
    }

    /// The parameters of one expert only (for a delta of the experts a node touched).
    public func parameterSet(expert index: Int) throws(PolicyNetworkError) -> ParameterSet {
        try requireExpert(index)
        let prefix = Self.expertPrefix(index)
        return parameterSet().filter { $0.hasPrefix(prefix) }
    }

    /// Replaces every parameter with the tensor of the same name.
    ///
    /// All-or-nothing: the set is checked completely before anything changes.
    /// This policy's pruning masks are re-applied afterwards, so loading never
    /// revives a pruned weight; training flags are kept.
    public mutating func load(_ parameters: ParameterSet) throws(PolicyNetworkError) {
        let expected = parameterNames
        for name in expected where !parameters.contains(name) {
            throw PolicyNetworkError(
                .missingParameter, "The parameter set lacks '\(name)', which this architecture needs.",
                context: ["name": name, "architecture": architecture.canonicalString])
        }
        let expectedSet = Set(expected)
        for name in parameters.names where !expectedSet.contains(name) {
            throw PolicyNetworkError(
                .unknownParameter, "The parameter set has '\(name)', which this architecture does not have.",
                context: ["name": name, "architecture": architecture.canonicalString])
        }
        var failure: PolicyNetworkError?
        forEachTensor { name, tensor in
            if failure == nil, parameters.shape(of: name) != tensor.shape {
                failure = PolicyNetworkError(
                    .shapeMismatch,
                    "Parameter '\(name)' has shape \(parameters.shape(of: name) ?? []), the architecture needs \(tensor.shape).",
                    context: ["name": name])
            }
        }
        if let failure { throw failure }
        router.weight = parameters["router.weight"]!
        router.bias = parameters["router.bias"]!
        for e in experts.indices {
            let p = Self.expertPrefix(e)
            experts[e].fc1.weight = parameters[p + "fc1.weight"]!
            experts[e].fc1.bias = parameters[p + "fc1.bias"]!
            experts[e].fc2.weight = parameters[p + "fc2.weight"]!
            experts[e].fc2.bias = parameters[p + "fc2.bias"]!
        }
        applyMasks()
    }

    /// Visits every tensor with its name in canonical order.
    func forEachTensor(_ body: (String, Tensor) throws -> Void) rethrows {
        try body("router.weight", router.weight)
        try body("router.bias", router.bias)
        for (e, expert) in experts.enumerated() {
            let p = Self.expertPrefix(e)
            try body(p + "fc1.weight", expert.fc1.weight)
            try body(p + "fc1.bias", expert.fc1.bias)
            try body(p + "fc2.weight", expert.fc2.weight)
            try body(p + "fc2.bias", expert.fc2.bias)
        }
    }

    func requireExpert(_ index: Int) throws(PolicyNetworkError) {
        guard experts.indices.contains(index) else {
            throw PolicyNetworkError(
                .invalidExpert, "Expert \(index) does not exist; the policy has \(experts.count) experts.",
                context: ["expert": "\(index)", "experts": "\(experts.count)"])
        }
    }

    mutating func setArchitectureExperts(_ count: Int) {
        architecture = architecture.with(experts: count)
    }
}
