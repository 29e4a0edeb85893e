/// A delta container that passed every check of the decoder, its values left
/// where they are in the container bytes.
///
/// Decoding into ``PolicyDelta`` copies every value into new arrays, which an
/// aggregator then reads a second and a third time (the norm, then the fold).
/// A scanned delta instead keeps the container (shared, not copied) and, per
/// tensor, where its payload lies; the scan has already checked the checksum,
/// every length, index and value, and computed each tensor's squared L2 norm
/// in the same pass that checked the values were finite. The aggregator then
/// folds the values straight from the container:
/// `sum += weight × decoded(tensor)` (``ScannedTensor/accumulate(scaledBy:into:)``).
/// ``DeltaCodec/scan(_:limits:)`` makes one; ``materialize()`` gives the
/// ordinary ``PolicyDelta``.
public struct ScannedDelta: Sendable {
    public let architecture: String
    public let baseVersion: UInt64
    public let round: UInt64
    public let nodeID: String
    /// The tensors, in container order (sorted by name).
    public let tensors: [ScannedTensor]
    public let routingCounts: [UInt64]
    public let metadata: DeltaMetadata

    /// The delta with every value copied out of the container.
    public func materialize() -> PolicyDelta {
        PolicyDelta(
            architecture: architecture,
            baseVersion: baseVersion,
            round: round,
            nodeID: nodeID,
            tensors: tensors.map { $0.materialize() },
            routingCounts: routingCounts,
            metadata: metadata
        )
    }
}

/// One checked tensor of a ``ScannedDelta``: its header, its squared norm, and
/// where its payload lies in the container.
public struct ScannedTensor: Sendable {
    /// How the payload is carried (the container's encoding code).
    public enum Encoding: UInt8, Sendable {
        case dense = 0
        case sparse = 1
        case denseInt8 = 2
        case sparseInt8 = 3
    }

    public let name: String
    public let role: TensorDelta.Role
    /// Row-major dimensions, each ≥ 1.
    public let shape: [Int]
    public let encoding: Encoding
    /// Σ x² over the decoded values (zeros left out by a sparse encoding add nothing).
    public let squaredNorm: Double
    /// Number of elements (the product of the dims).
    public let elementCount: Int
    /// Elements per row (per-row scales cover `columns` elements each).
    public let columns: Int

    /// The container the payload lies in.
    let storage: [UInt8]
    /// Byte offset of the per-row scales (int8 encodings).
    let scalesOffset: Int
    /// Byte offset of the values (float32 or int8).
    let valuesOffset: Int
    /// Values carried: `elementCount` for dense encodings, the nonzero count for sparse ones.
    let valueCount: Int
    /// The decoded flat indices (sparse encodings; empty otherwise).
    let indices: [UInt32]

    /// Rows for per-row scales: the first dim (1 for a vector).
    public var rows: Int { shape.count <= 1 ? 1 : shape[0] }

    /// `sum[i] += weight × value[i]` for every element the payload carries,
    /// read straight from the container.
    ///
    /// - Precondition: `sum.count == elementCount`.
    public func accumulate(scaledBy weight: Float, into sum: UnsafeMutableBufferPointer<Float>) {
        precondition(sum.count == elementCount, "the sum has \(sum.count) elements; tensor '\(name)' has \(elementCount)")
        storage.withUnsafeBytes { container in
            let values = container.baseAddress! + valuesOffset
            switch encoding {
            case .dense:
                PayloadKernels.accumulateFloats(values, count: valueCount, weight: weight, into: sum.baseAddress!)
            case .sparse:
                indices.withUnsafeBufferPointer { indices in
                    PayloadKernels.scatterFloats(values, indices: indices, weight: weight, into: sum.baseAddress!)
                }
            case .denseInt8:
                PayloadKernels.accumulateInt8Rows(
                    values, scales: container.baseAddress! + scalesOffset, rows: rows, columns: columns,
                    weight: weight, into: sum.baseAddress!)
            case .sparseInt8:
                indices.withUnsafeBufferPointer { indices in
                    PayloadKernels.scatterInt8(
                        values, scales: container.baseAddress! + scalesOffset, indices: indices, columns: columns,
                        weight: weight, into: sum.baseAddress!)
                }
            }
        }
    }

    /// The tensor with its payload copied out of the container.
    public func materialize() -> TensorDelta {
        storage.withUnsafeBytes { container in
            let payload: TensorPayload
            switch encoding {
            case .dense:
                payload = .dense(PayloadKernels.floats(container, at: valuesOffset, count: valueCount))
            case .sparse:
                payload = .sparse(indices: indices, values: PayloadKernels.floats(container, at: valuesOffset, count: valueCount))
            case .denseInt8:
                payload = .denseInt8(
                    scales: PayloadKernels.floats(container, at: scalesOffset, count: rows),
                    values: PayloadKernels.int8s(container, at: valuesOffset, count: valueCount))
            case .sparseInt8:
                payload = .sparseInt8(
                    scales: PayloadKernels.floats(container, at: scalesOffset, count: rows),
                    indices: indices,
                    values: PayloadKernels.int8s(container, at: valuesOffset, count: valueCount))
            }
            return TensorDelta(name: name, role: role, shape: shape, payload: payload)
        }
    }
}
