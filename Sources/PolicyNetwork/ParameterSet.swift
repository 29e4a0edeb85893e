/// An ordered collection of named tensors: the exchange format of a model.
///
/// Checkpoints, deltas and federated averages all work on parameter sets, not on
/// the policy itself, so the policy's internals can change without touching the
/// wire. Names follow PyTorch's `state_dict` convention (`router.weight`,
/// `experts.3.fc1.bias`); the order is the policy's canonical order and is kept
/// through every operation. Arithmetic (``adding(_:)``, ``subtracting(_:)``,
/// ``scaled(by:)``) requires both sets to have the same names and shapes, which
/// makes a delta `local − base` one line and an average a few.
public struct ParameterSet: Sendable, Equatable, Sequence {
    private var entries: [(name: String, tensor: Tensor)]
    private var indexByName: [String: Int]

    /// An empty set.
    public init() {
        entries = []
        indexByName = [:]
    }

    /// A set of `(name, tensor)` pairs in the given order.
    ///
    /// - Throws: ``PolicyNetworkError/Code/duplicateParameter`` when a name repeats.
    public init(_ pairs: [(String, Tensor)]) throws(PolicyNetworkError) {
        self.init()
        for (name, tensor) in pairs { try append(name, tensor) }
    }

    /// The names, in order.
    public var names: [String] { entries.map(\.name) }

    /// The number of tensors.
    public var count: Int { entries.count }

    /// The total number of scalars over all tensors.
    public var scalarCount: Int { entries.reduce(0) { $0 + $1.tensor.count } }

    /// True when `name` is in the set.
    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    /// The tensor named `name`, or nil.
    public subscript(name: String) -> Tensor? { indexByName[name].map { entries[$0].tensor } }

    /// The shape of the tensor named `name`, or nil.
    public func shape(of name: String) -> [Int]? { self[name]?.shape }

    /// Adds a tensor at the end.
    ///
    /// - Throws: ``PolicyNetworkError/Code/duplicateParameter`` when the name is taken.
    public mutating func append(_ name: String, _ tensor: Tensor) throws(PolicyNetworkError) {
        guard indexByName[name] == nil else {
            throw PolicyNetworkError(.duplicateParameter, "Parameter '\(name)' is already in the set.", context: ["name": name])
        }
        indexByName[name] = entries.count
        entries.append((name, tensor))
    }

    /// Replaces the values of an existing tensor, keeping its position.
    ///
    /// - Throws: ``PolicyNetworkError/Code/unknownParameter`` or ``PolicyNetworkError/Code/shapeMismatch``.
    public mutating func replace(_ name: String, with tensor: Tensor) throws(PolicyNetworkError) {
        let index = try position(of: name)
        guard entries[index].tensor.shape == tensor.shape else {
            throw PolicyNetworkError(
                .shapeMismatch, "Parameter '\(name)' has shape \(entries[index].tensor.shape), not \(tensor.shape).",
                context: ["name": name])
        }
        entries[index].tensor = tensor
    }

    /// Removes a tensor; the others keep their order.
    @discardableResult
    public mutating func remove(_ name: String) throws(PolicyNetworkError) -> Tensor {
        let index = try position(of: name)
        let removed = entries.remove(at: index).tensor
        rebuildIndex()
        return removed
    }

    /// The tensors whose names satisfy `isIncluded`, in the same order
    /// (e.g. one expert's parameters for a partial delta).
    public func filter(_ isIncluded: (String) -> Bool) -> ParameterSet {
        var result = ParameterSet()
        for entry in entries where isIncluded(entry.name) {
            result.indexByName[entry.name] = result.entries.count
            result.entries.append(entry)
        }
        return result
    }

    /// Calls `body` with the values of `name`; the pointer is valid only inside `body`.
    public func withUnsafeBufferPointer<R>(
        _ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) throws -> R {
        let index = try position(of: name)
        return try entries[index].tensor.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with mutable values of `name`; the pointer is valid only inside `body`.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ name: String, _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) throws -> R {
        let index = try position(of: name)
        return try entries[index].tensor.withUnsafeMutableBufferPointer(body)
    }

    // MARK: Arithmetic

    /// True when both sets hold the same names, in the same order, with the same shapes.
    public func hasSameLayout(as other: ParameterSet) -> Bool {
        entries.count == other.entries.count
            && zip(entries, other.entries).allSatisfy { $0.name == $1.name && $0.tensor.shape == $1.tensor.shape }
    }

    /// self + other, elementwise.
    public func adding(_ other: ParameterSet) throws(PolicyNetworkError) -> ParameterSet {
        var result = self
        try result.add(other, scaledBy: 1)
        return result
    }

    /// self − other, elementwise: `local.subtracting(base)` is the delta a node sends.
    public func subtracting(_ other: ParameterSet) throws(PolicyNetworkError) -> ParameterSet {
        var result = self
        try result.add(other, scaledBy: -1)
        return result
    }

    /// self · factor, elementwise.
    public func scaled(by factor: Float) -> ParameterSet {
        var result = self
        result.scale(by: factor)
        return result
    }

    /// self += factor · other (axpy), in place: the step of a running weighted sum.
    ///
    /// - Throws: ``PolicyNetworkError/Code/layoutMismatch`` when names or shapes differ; self is unchanged then.
    public mutating func add(_ other: ParameterSet, scaledBy factor: Float) throws(PolicyNetworkError) {
        try requireSameLayout(other)
        for index in entries.indices {
            other.entries[index].tensor.withUnsafeBufferPointer { source in
                entries[index].tensor.withUnsafeMutableBufferPointer { target in
                    for i in 0..<target.count { target[i] += factor * source[i] }
                }
            }
        }
    }

    /// self *= factor, in place.
    public mutating func scale(by factor: Float) {
        for index in entries.indices {
            entries[index].tensor.withUnsafeMutableBufferPointer { values in
                for i in 0..<values.count { values[i] *= factor }
            }
        }
    }

    /// The Euclidean norm over all scalars (accumulated in Double).
    public var globalNorm: Double {
        entries.reduce(0) { $0 + $1.tensor.squaredNorm }.squareRoot()
    }

    /// True when both sets have the same names in the same order and bit-identical tensors.
    public func isBitIdentical(to other: ParameterSet) -> Bool {
        entries.count == other.entries.count
            && zip(entries, other.entries).allSatisfy { $0.name == $1.name && $0.tensor.isBitIdentical(to: $1.tensor) }
    }

    // MARK: Sequence

    /// One named tensor, as produced by iteration.
    public struct Element: Sendable {
        public let name: String
        public let tensor: Tensor
    }

    public func makeIterator() -> some IteratorProtocol<Element> {
        entries.lazy.map { Element(name: $0.name, tensor: $0.tensor) }.makeIterator()
    }

    public static func == (lhs: ParameterSet, rhs: ParameterSet) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
    }

    // MARK: Private

    private func position(of name: String) throws(PolicyNetworkError) -> Int {
        guard let index = indexByName[name] else {
            throw PolicyNetworkError(.unknownParameter, "No parameter named '\(name)' in the set.", context: ["name": name])
        }
        return index
    }

    private func requireSameLayout(_ other: ParameterSet) throws(PolicyNetworkError) {
        guard hasSameLayout(as: other) else {
            let mine = Set(names), theirs = Set(other.names)
            let firstDifference = zip(entries, other.entries).first { $0.name != $1.name || $0.tensor.shape != $1.tensor.shape }
            throw PolicyNetworkError(
                .layoutMismatch, "Parameter sets differ in names, order or shapes; they cannot be combined elementwise.",
                context: [
                    "onlyLeft": mine.subtracting(theirs).sorted().prefix(5).joined(separator: ","),
                    "onlyRight": theirs.subtracting(mine).sorted().prefix(5).joined(separator: ","),
                    "firstDifference": firstDifference.map { "\($0.0.name) \($0.0.tensor.shape) vs \($0.1.name) \($0.1.tensor.shape)" } ?? "count",
                ])
        }
    }

    private mutating func rebuildIndex() {
        indexByName = [:]
        for (index, entry) in entries.enumerated() { indexByName[entry.name] = index }
    }
}
