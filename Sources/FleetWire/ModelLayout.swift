public import PolicyNetwork

/// The names and shapes of a model's tensors, and which expert owns each.
///
/// Everything that checks or combines deltas needs exactly this much of the
/// model and nothing more: a delta is valid if its tensors exist here with
/// these shapes, and an expert's tensors are averaged with that expert's
/// routing counts as weights.
public struct ModelLayout: Sendable, Equatable {
    /// One tensor of the model.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        /// The expert the tensor belongs to; nil for shared tensors (the router).
        public let expert: Int?

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The architecture hash deltas against this model must carry.
    public let architecture: String
    /// Every tensor, in the model's canonical order.
    public let entries: [Entry]
    /// How many experts the model has.
    public let expertCount: Int
    private let indexByName: [String: Int]

    /// A layout from names and shapes; an expert's tensors are named `experts.<i>.…`.
    public init(architecture: String, tensors: [(name: String, shape: [Int])]) {
        self.architecture = architecture
        entries = tensors.map { Entry(name: $0.name, shape: $0.shape, expert: MoEPolicy.expertIndex(ofParameter: $0.name)) }
        expertCount = (entries.compactMap(\.expert).max() ?? -1) + 1
        indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    /// The layout of `policy`.
    public init(policy: MoEPolicy) {
        let parameters = policy.parameterSet()
        self.init(
            architecture: policy.architecture.hash,
            tensors: parameters.names.map { ($0, parameters.shape(of: $0) ?? []) }
        )
    }

    /// The entry of that name, if the model has it.
    public subscript(name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The position of that name in ``entries``, if the model has it.
    public func index(of name: String) -> Int? { indexByName[name] }

    /// Total number of parameters.
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.elementCount } }
}
