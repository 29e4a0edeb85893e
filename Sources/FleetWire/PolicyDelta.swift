/// The change an edge node made to the shared policy, as it crosses the wire.
///
/// It carries only the tensors the node touched, each in the encoding its
/// sender chose (dense or sparse, float32 or int8 with per-row scales), plus
/// the routing counts that weight the fleet's per-expert average and the
/// metadata that records where the lesson came from.
/// `Protocols/delta-format.md` specifies the bytes.
public struct PolicyDelta: Sendable, Equatable {
    /// The architecture hash of the model the delta was computed against.
    public var architecture: String
    /// The model version the delta is relative to.
    public var baseVersion: UInt64
    /// The round it answers; 0 in asynchronous mode.
    public var round: UInt64
    /// The sender, as named in its certificate.
    public var nodeID: String
    /// The touched tensors, sorted by name.
    public var tensors: [TensorDelta]
    /// How many samples the node's router sent to each expert while adapting.
    public var routingCounts: [UInt64]
    public var metadata: DeltaMetadata

    public init(
        architecture: String,
        baseVersion: UInt64,
        round: UInt64,
        nodeID: String,
        tensors: [TensorDelta],
        routingCounts: [UInt64],
        metadata: DeltaMetadata
    ) {
        self.architecture = architecture
        self.baseVersion = baseVersion
        self.round = round
        self.nodeID = nodeID
        self.tensors = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.routingCounts = routingCounts
        self.metadata = metadata
    }

    /// The tensor block of that name, if the delta carries one.
    public subscript(name: String) -> TensorDelta? {
        tensors.first { $0.name == name }
    }
}

/// One tensor's change.
public struct TensorDelta: Sendable, Equatable {
    /// Whether the values are a difference against the base or a whole new tensor.
    public enum Role: UInt8, Sendable {
        /// `local − base` for a tensor the base model has.
        case difference = 0
        /// A tensor the base model lacks (an expert the node added), carried whole.
        case addition = 1
    }

    public var name: String
    public var role: Role
    /// Row-major dimensions, each ≥ 1.
    public var shape: [Int]
    public var payload: TensorPayload

    public init(name: String, role: Role = .difference, shape: [Int], payload: TensorPayload) {
        self.name = name
        self.role = role
        self.shape = shape
        self.payload = payload
    }

    /// Number of elements (the product of the dims).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Rows for per-row scales: the first dim (1 for a vector).
    public var rows: Int { shape.count <= 1 ? 1 : shape[0] }

    /// Elements per row.
    public var columns: Int { elementCount / max(rows, 1) }

    /// Every element as float32, zeros where a sparse encoding leaves them out.
    public func denseValues() -> [Float] {
        var values = [Float](repeating: 0, count: elementCount)
        forEachNonzero { index, value in values[index] = value }
        return values
    }

    /// Calls `body(flatIndex, value)` for every element the encoding carries,
    /// in increasing index order — how an aggregator folds a delta in without
    /// expanding it.
    public func forEachNonzero(_ body: (Int, Float) -> Void) {
        switch payload {
        case .dense(let values):
            for (index, value) in values.enumerated() { body(index, value) }
        case .sparse(let indices, let values):
            for (index, value) in zip(indices, values) { body(Int(index), value) }
        case .denseInt8(let scales, let values):
            let columns = self.columns
            for (index, quantized) in values.enumerated() {
                body(index, Float(quantized) * scales[index / columns])
            }
        case .sparseInt8(let scales, let indices, let values):
            let columns = self.columns
            for (index, quantized) in zip(indices, values) {
                body(Int(index), Float(quantized) * scales[Int(index) / columns])
            }
        }
    }
}

/// How a tensor's values are carried.
public enum TensorPayload: Sendable, Equatable {
    /// Every element as float32.
    case dense([Float])
    /// Strictly increasing flat indices and their float32 values.
    case sparse(indices: [UInt32], values: [Float])
    /// One float32 scale per row and every element as int8: `value = q × scale[row]`.
    case denseInt8(scales: [Float], values: [Int8])
    /// One float32 scale per row, strictly increasing flat indices and their int8 values.
    case sparseInt8(scales: [Float], indices: [UInt32], values: [Int8])

    /// The code of the encoding on the wire.
    var encodingCode: UInt8 {
        switch self {
        case .dense: 0
        case .sparse: 1
        case .denseInt8: 2
        case .sparseInt8: 3
        }
    }
}

/// Where a delta's lesson came from, and how the node did with it.
public struct DeltaMetadata: Sendable, Equatable, Codable {
    /// The scenario families of the captures it learned from.
    public var families: [String]
    /// Training samples (labelled states) used.
    public var samples: Int
    /// Edge-case captures used.
    public var captures: Int
    /// Local measurements, e.g. the failure rate before and after adapting.
    public var metrics: [String: Double]

    public init(families: [String] = [], samples: Int = 0, captures: Int = 0, metrics: [String: Double] = [:]) {
        self.families = families
        self.samples = samples
        self.captures = captures
        self.metrics = metrics
    }
}
