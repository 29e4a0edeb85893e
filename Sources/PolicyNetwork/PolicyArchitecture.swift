/// The shape of a mixture-of-experts policy: everything needed to rebuild it
/// from its parameters.
///
/// It travels with every checkpoint (`__metadata__` of the safetensors file),
/// model manifest and delta header, so that a node never applies a delta to a
/// model of another shape. ``canonicalString`` is the stable text form and
/// ``hash`` a short stable digest of it for headers.
public struct PolicyArchitecture: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Observation features per sample.
    public var inputs: Int
    /// Number of experts E.
    public var experts: Int
    /// Hidden width of each expert's MLP.
    public var hidden: Int
    /// Experts evaluated per sample (1 or 2 in practice; at most `experts`).
    public var topK: Int
    /// Discrete actions (the policy's output logits).
    public var actions: Int
    /// The nonlinearity inside each expert.
    public var activation: Activation

    /// The fleet's default policy: 64 inputs, 8 experts of hidden width 128, top-2, 6 actions, GELU.
    public static let standard = PolicyArchitecture(
        uncheckedInputs: 64, experts: 8, hidden: 128, topK: 2, actions: 6, activation: .gelu)

    /// A validated architecture.
    ///
    /// - Throws: ``PolicyNetworkError/Code/invalidArchitecture`` naming the bad field.
    public init(
        inputs: Int, experts: Int, hidden: Int, topK: Int, actions: Int, activation: Activation
    ) throws(PolicyNetworkError) {
        self.init(uncheckedInputs: inputs, experts: experts, hidden: hidden, topK: topK, actions: actions, activation: activation)
        try validate()
    }

    private init(uncheckedInputs inputs: Int, experts: Int, hidden: Int, topK: Int, actions: Int, activation: Activation) {
        self.inputs = inputs
        self.experts = experts
        self.hidden = hidden
        self.topK = topK
        self.actions = actions
        self.activation = activation
    }

    /// Upper bound on any dimension, so a hostile header cannot ask for terabytes.
    public static let maximumDimension = 1 << 16

    /// Checks every field; the error names the first one out of range.
    public func validate() throws(PolicyNetworkError) {
        let limit = Self.maximumDimension
        for (field, value) in [("inputs", inputs), ("experts", experts), ("hidden", hidden), ("actions", actions)]
        where value < 1 || value > limit {
            throw PolicyNetworkError(
                .invalidArchitecture, "\(field) must be in 1...\(limit), got \(value).", context: ["field": field])
        }
        guard topK >= 1, topK <= experts else {
            throw PolicyNetworkError(
                .invalidArchitecture, "topK must be in 1...experts (\(experts)), got \(topK).", context: ["field": "topK"])
        }
    }

    /// Multiply-adds of one decision: the router over every expert, then the
    /// `topK` chosen experts' two layers (FLOPs are twice this).
    public var multiplyAddsPerDecision: Int {
        inputs * experts + topK * (inputs * hidden + hidden * actions)
    }

    /// The same architecture with a different number of experts (after adding or removing one).
    func with(experts count: Int) -> PolicyArchitecture {
        var copy = self
        copy.experts = count
        return copy
    }

    enum CodingKeys: String, CodingKey {
        case inputs, experts, hidden, topK = "top_k", actions, activation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            uncheckedInputs: try container.decode(Int.self, forKey: .inputs),
            experts: try container.decode(Int.self, forKey: .experts),
            hidden: try container.decode(Int.self, forKey: .hidden),
            topK: try container.decode(Int.self, forKey: .topK),
            actions: try container.decode(Int.self, forKey: .actions),
            activation: try container.decode(Activation.self, forKey: .activation))
        try validate()
    }

    /// `moe-v1;inputs=64;experts=8;hidden=128;top_k=2;actions=6;activation=gelu` — fixed field
    /// order, so equal architectures give equal strings on every platform.
    public var canonicalString: String {
        "moe-v1;inputs=\(inputs);experts=\(experts);hidden=\(hidden);top_k=\(topK);actions=\(actions);activation=\(activation.rawValue)"
    }

    /// 64-bit FNV-1a of ``canonicalString`` as 16 lowercase hex digits.
    ///
    /// An identifier, not a security digest: it tells two shapes apart cheaply in
    /// a delta header; signatures protect content elsewhere.
    public var hash: String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in canonicalString.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public var description: String { canonicalString }

    /// The architecture as string pairs for a safetensors `__metadata__` block.
    public var metadata: [String: String] {
        [
            "fleet.architecture": canonicalString,
            "fleet.architecture_hash": hash,
            "fleet.inputs": "\(inputs)",
            "fleet.experts": "\(experts)",
            "fleet.hidden": "\(hidden)",
            "fleet.top_k": "\(topK)",
            "fleet.actions": "\(actions)",
            "fleet.activation": activation.rawValue,
        ]
    }

    /// Reads an architecture back from ``metadata``.
    ///
    /// - Throws: ``PolicyNetworkError/Code/invalidArchitecture`` when a field is
    ///   missing or not a number, or the result is out of range.
    public init(metadata: [String: String]) throws(PolicyNetworkError) {
        func integer(_ key: String) throws(PolicyNetworkError) -> Int {
            guard let text = metadata["fleet.\(key)"], let value = Int(text) else {
                throw PolicyNetworkError(
                    .invalidArchitecture, "Checkpoint metadata lacks an integer 'fleet.\(key)'.", context: ["field": key])
            }
            return value
        }
        guard let activationName = metadata["fleet.activation"], let activation = Activation(rawValue: activationName) else {
            throw PolicyNetworkError(
                .invalidArchitecture, "Checkpoint metadata lacks a known 'fleet.activation' (relu, gelu, tanh).",
                context: ["field": "activation"])
        }
        try self.init(
            inputs: try integer("inputs"), experts: try integer("experts"), hidden: try integer("hidden"),
            topK: try integer("top_k"), actions: try integer("actions"), activation: activation)
    }
}
