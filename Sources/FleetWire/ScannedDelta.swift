#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
/// `sum += weight × decoded(tensor)` (``accumulate(_:scaledBy:into:)``).
/// ``DeltaCodec/scan(_:limits:)`` makes one; ``materialize()`` gives the
/// ordinary ``PolicyDelta``.
public struct ScannedDelta: Sendable {
    /// Metadata in the canonical form is checked by the scan and parsed only
    /// when asked for; `families` is the byte range of its family list's
    /// items (`"a","b"`), which the aggregator reads without building strings.
    enum Metadata: Sendable {
        case parsed(DeltaMetadata)
        case canonical(Range<Int>, families: Range<Int>)
    }

    /// Where the architecture hash lies in the container (compared as bytes by ``hasArchitecture(_:)``).
    let architectureRange: Range<Int>
    public let baseVersion: UInt64
    public let round: UInt64
    public let nodeID: String
    /// The tensors, in container order (sorted by name).
    public let tensors: [ScannedTensor]
    /// Where the routing counts (little-endian UInt64s) start in the container, and how many there are.
    let routingCountsOffset: Int
    /// How many routing counts the delta carries (the model's experts, then any it adds).
    public let routingCountCount: Int
    let metadataSource: Metadata
    /// The container the payloads lie in.
    let storage: [UInt8]
    /// The decoded indices of every sparse tensor, one after another.
    let indices: IndexBuffer

    /// The architecture hash the delta was made against.
    public var architecture: String {
        storage.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[architectureRange]), as: UTF8.self) }
    }

    /// Whether the delta's architecture hash is `expected`, compared as bytes (no string built).
    public func hasArchitecture(_ expected: String) -> Bool {
        var expected = expected
        return expected.withUTF8 { wanted in
            storage.withUnsafeBytes { container in
                wanted.count == architectureRange.count
                    && (wanted.isEmpty || memcmp(wanted.baseAddress!, container.baseAddress! + architectureRange.lowerBound, wanted.count) == 0)
            }
        }
    }

    /// Samples the node routed to each expert (the model's, then any it adds).
    public var routingCounts: [UInt64] { (0..<routingCountCount).map(routingCount) }

    /// The routing count of `expert`, read from the container.
    ///
    /// - Precondition: `expert < routingCountCount`.
    public func routingCount(_ expert: Int) -> UInt64 {
        precondition(expert >= 0 && expert < routingCountCount, "the delta carries \(routingCountCount) routing counts")
        return storage.withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: routingCountsOffset + 8 * expert, as: UInt64.self))
        }
    }

    /// The name of tensor `index`.
    public func name(ofTensor index: Int) -> String {
        storage.withUnsafeBytes { String(decoding: tensors[index].nameBytes(in: $0), as: UTF8.self) }
    }

    /// The position in `layout` of tensor `index`'s name, looked up by its bytes; nil if the model has no such tensor.
    public func layoutIndex(ofTensor index: Int, in layout: ModelLayout) -> Int? {
        storage.withUnsafeBytes { layout.index(ofUTF8: tensors[index].nameBytes(in: $0)) }
    }

    /// Whether tensor `index` has the shape of layout entry `entry` (compared without building arrays).
    public func tensor(_ index: Int, hasShapeOf entry: Int, in layout: ModelLayout) -> Bool {
        layout.hasShape(entry, rank: tensors[index].rank, dims: tensors[index].dims)
    }

    /// Where the delta's lesson came from (parsed from the container on each access).
    public var metadata: DeltaMetadata {
        switch metadataSource {
        case .parsed(let metadata):
            return metadata
        case .canonical(let range, _):
            return storage.withUnsafeBytes { bytes in
                // The scan accepted these bytes as canonical, so the parser accepts them too.
                CanonicalMetadataParser.parse(UnsafeRawBufferPointer(rebasing: bytes[range]))!
            }
        }
    }

    /// The edge-case families of the metadata, without parsing the rest of it.
    public var families: [String] {
        switch metadataSource {
        case .parsed(let metadata):
            return metadata.families
        case .canonical(let range, _):
            return storage.withUnsafeBytes { bytes in
                CanonicalMetadataParser.families(UnsafeRawBufferPointer(rebasing: bytes[range]))!
            }
        }
    }

    /// Calls `body` with the UTF-8 bytes of each family of the metadata, in
    /// order, building no string when the metadata is canonical (the
    /// aggregator counts families by their bytes).
    public func forEachFamily(_ body: (UnsafeRawBufferPointer) -> Void) {
        switch metadataSource {
        case .parsed(let metadata):
            for family in metadata.families {
                var family = family
                family.withUTF8 { body(UnsafeRawBufferPointer($0)) }
            }
        case .canonical(_, let list):
            storage.withUnsafeBytes { container in
                // Canonical items are `"…"` joined by `,` with no quote or escape inside.
                let base = container.baseAddress!
                var cursor = list.lowerBound
                while cursor < list.upperBound {
                    let start = cursor + 1
                    var end = start
                    while base.load(fromByteOffset: end, as: UInt8.self) != UInt8(ascii: "\"") { end += 1 }
                    body(UnsafeRawBufferPointer(start: base + start, count: end - start))
                    cursor = end + 2
                }
            }
        }
    }

    /// `sum[i] += weight × value[i]` for every element tensor `index` carries,
    /// read straight from the container.
    ///
    /// - Precondition: `sum.count == tensors[index].elementCount`.
    public func accumulate(_ index: Int, scaledBy weight: Float, into sum: UnsafeMutableBufferPointer<Float>) {
        precondition(sum.count == tensors[index].elementCount, "the sum has \(sum.count) elements; tensor '\(name(ofTensor: index))' has \(tensors[index].elementCount)")
        let encoding = tensors[index].encoding
        let valueCount = tensors[index].valueCount
        let columns = tensors[index].columns
        let rows = tensors[index].rows
        let indicesStart = tensors[index].indicesStart
        let decodedStart = tensors[index].decodedStart
        let valuesOffset = tensors[index].valuesOffset
        let scalesOffset = tensors[index].scalesOffset
        storage.withUnsafeBytes { container in
            let values = container.baseAddress! + valuesOffset
            let scales = container.baseAddress! + scalesOffset
            let target = sum.baseAddress!
            switch encoding {
            case .dense:
                PayloadKernels.accumulateFloats(values, count: valueCount, weight: weight, into: target)
            case .sparse:
                PayloadKernels.scatterFloats(values, indices: self.indices.slice(indicesStart, count: valueCount), weight: weight, into: target)
            case .denseInt8:
                PayloadKernels.accumulateInt8Rows(values, scales: scales, rows: rows, columns: columns, weight: weight, into: target)
            case .sparseInt8:
                // The scan decoded the values already (finding each one's row once).
                PayloadKernels.scatterFloats(
                    UnsafeRawPointer(self.indices.slice(decodedStart, count: valueCount).baseAddress!),
                    indices: self.indices.slice(indicesStart, count: valueCount), weight: weight, into: target)
            }
        }
    }

    /// Tensor `index` with its payload copied out of the container.
    public func materialize(_ index: Int) -> TensorDelta {
        let tensor = tensors[index]
        return storage.withUnsafeBytes { container in
            let indices = Array(indices.slice(tensor.indicesStart, count: tensor.encoding.isSparse ? tensor.valueCount : 0))
            let payload: TensorPayload
            switch tensor.encoding {
            case .dense:
                payload = .dense(PayloadKernels.floats(container, at: tensor.valuesOffset, count: tensor.valueCount))
            case .sparse:
                payload = .sparse(indices: indices, values: PayloadKernels.floats(container, at: tensor.valuesOffset, count: tensor.valueCount))
            case .denseInt8:
                payload = .denseInt8(
                    scales: PayloadKernels.floats(container, at: tensor.scalesOffset, count: tensor.rows),
                    values: PayloadKernels.int8s(container, at: tensor.valuesOffset, count: tensor.valueCount))
            case .sparseInt8:
                payload = .sparseInt8(
                    scales: PayloadKernels.floats(container, at: tensor.scalesOffset, count: tensor.rows),
                    indices: indices,
                    values: PayloadKernels.int8s(container, at: tensor.valuesOffset, count: tensor.valueCount))
            }
            return TensorDelta(name: name(ofTensor: index), role: tensor.role, shape: tensor.shape, payload: payload)
        }
    }

    /// The delta with every value copied out of the container.
    public func materialize() -> PolicyDelta {
        PolicyDelta(
            architecture: architecture,
            baseVersion: baseVersion,
            round: round,
            nodeID: nodeID,
            tensors: tensors.indices.map(materialize),
            routingCounts: routingCounts,
            metadata: metadata
        )
    }
}

/// One checked tensor of a ``ScannedDelta``: its header, its squared norm, and
/// where its payload lies in the container.
///
/// Plain values only — the name is a byte range in the container
/// (``ScannedDelta/name(ofTensor:)``) — so that passing tensors around costs
/// no allocation or reference counting on the aggregation path.
public struct ScannedTensor: Sendable {
    /// How the payload is carried (the container's encoding code).
    public enum Encoding: UInt8, Sendable {
        case dense = 0
        case sparse = 1
        case denseInt8 = 2
        case sparseInt8 = 3

        var isSparse: Bool { self == .sparse || self == .sparseInt8 }
    }

    /// Where the name's UTF-8 bytes lie in the container.
    let nameOffset: Int
    let nameLength: Int
    public let role: TensorDelta.Role
    public let encoding: Encoding
    /// Σ x² over the decoded values (zeros left out by a sparse encoding add nothing).
    public let squaredNorm: Double
    /// Number of elements (the product of the dims).
    public let elementCount: Int
    /// Elements per row (per-row scales cover `columns` elements each).
    public let columns: Int
    /// Number of dims (1 to 4) and the dims, unused ones 0.
    let rank: Int
    let dims: SIMD4<Int32>
    /// Byte offset of the per-row scales (int8 encodings).
    let scalesOffset: Int
    /// Byte offset of the values (float32 or int8).
    let valuesOffset: Int
    /// Values carried: `elementCount` for dense encodings, the nonzero count for sparse ones.
    let valueCount: Int
    /// Where this tensor's indices start in the delta's index buffer (sparse encodings).
    let indicesStart: Int
    /// Where, in the same buffer, its decoded values `q × scale[row]` start
    /// (sparse int8: float32 bit patterns, one per index).
    let decodedStart: Int

    func nameBytes(in container: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: container[nameOffset..<(nameOffset + nameLength)])
    }

    /// Row-major dimensions, each ≥ 1.
    public var shape: [Int] { (0..<rank).map { Int(UInt32(bitPattern: dims[$0])) } }

    /// Whether the dims are exactly `shape` (without building an array).
    public func hasShape(_ shape: [Int]) -> Bool {
        guard shape.count == rank else { return false }
        for axis in 0..<rank where Int(UInt32(bitPattern: dims[axis])) != shape[axis] { return false }
        return true
    }

    /// Rows for per-row scales: the first dim (1 for a vector).
    public var rows: Int { rank <= 1 ? 1 : Int(UInt32(bitPattern: dims[0])) }
}

/// The decoded indices of a scanned delta's sparse tensors, in one allocation.
///
/// Written only while the scan runs (before anyone else sees it) and read-only
/// after, which is why sharing it across threads is safe.
final class IndexBuffer: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt32>?
    private(set) var capacity = 0
    private(set) var count = 0

    init() {}

    deinit { base?.deallocate() }

    /// Room for `more` indices. `remainingBound` bounds every index the
    /// container can still hold (each takes at least one byte), so the first
    /// allocation takes that much and later tensors never need to grow it.
    func reserve(_ more: Int, remainingBound: Int) {
        guard count + more > capacity else { return }
        let newCapacity = max(count + more, count + remainingBound, 2 * capacity)
        let newBase = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        if let base {
            newBase.update(from: base, count: count)
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    /// The writable room after the indices written so far.
    var free: UnsafeMutableBufferPointer<UInt32> {
        UnsafeMutableBufferPointer(start: base.map { $0 + count }, count: capacity - count)
    }

    func commit(_ written: Int) { count += written }

    func slice(_ start: Int, count: Int) -> UnsafeBufferPointer<UInt32> {
        UnsafeBufferPointer(start: base.map { $0 + start }, count: count)
    }
}
