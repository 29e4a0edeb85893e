import CFleetWireKernels
import Foundation

/// Encodes and decodes the policy delta container (`Protocols/delta-format.md`).
///
/// Decoding trusts nothing: every length is checked against ``DeltaLimits``
/// before anything is allocated for it, every index and value is validated,
/// and the checksum must match. Any failure is a ``FleetWireError`` whose code
/// names the problem.
public enum DeltaCodec {
    /// `FLDELTA\0`.
    static let magic: [UInt8] = Array("FLDELTA".utf8) + [0]
    /// The format version this codec writes and reads.
    public static let formatVersion: UInt16 = 1
    static let maxRank = 4
    /// How much of a container the scan asks the cache for up front.
    /// (4 KB measured best: more made the prefetches wait on each other in
    /// a dense container the checksum pass streams through anyway.)
    static let prefetchBytes = 4 << 10

    // MARK: Encoding

    /// The uncompressed container bytes of `delta`.
    ///
    /// - Precondition: the delta is well formed (shapes match payloads,
    ///   indices strictly increasing); ``validate(_:limits:)`` checks that.
    public static func encode(_ delta: PolicyDelta) throws(FleetWireError) -> [UInt8] {
        try validate(delta)
        var writer = ByteWriter(reservingCapacity: 256 + delta.tensors.reduce(0) { $0 + 5 * $1.elementCount })
        writer.write(raw: magic)
        writer.write(formatVersion)
        writer.write(UInt16(0))
        writer.writeString16(delta.architecture)
        writer.write(delta.baseVersion)
        writer.write(delta.round)
        writer.writeString16(delta.nodeID)
        writer.write(UInt32(delta.tensors.count))
        for tensor in delta.tensors {
            encode(tensor, into: &writer)
        }
        writer.write(UInt32(delta.routingCounts.count))
        for count in delta.routingCounts { writer.write(count) }
        let metadata = try encodeMetadata(delta.metadata)
        writer.write(UInt32(metadata.count))
        writer.write(raw: metadata)
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// The container compressed with zstd, as uploaded.
    public static func encodeCompressed(_ delta: PolicyDelta, level: Int32 = Zstd.defaultLevel) throws(FleetWireError) -> [UInt8] {
        try Zstd.compress(encode(delta), level: level)
    }

    private static func encode(_ tensor: TensorDelta, into writer: inout ByteWriter) {
        writer.writeString16(tensor.name)
        writer.write(tensor.role.rawValue)
        writer.write(UInt8(tensor.shape.count))
        for dim in tensor.shape { writer.write(UInt32(dim)) }
        writer.write(tensor.payload.encodingCode)
        switch tensor.payload {
        case .dense(let values):
            writer.write(values)
        case .sparse(let indices, let values):
            writer.write(UInt32(indices.count))
            writeGaps(indices, into: &writer)
            writer.write(values)
        case .denseInt8(let scales, let values):
            writer.write(scales)
            writer.write(values)
        case .sparseInt8(let scales, let indices, let values):
            writer.write(scales)
            writer.write(UInt32(indices.count))
            writeGaps(indices, into: &writer)
            writer.write(values)
        }
    }

    private static func writeGaps(_ indices: [UInt32], into writer: inout ByteWriter) {
        var previous: UInt32 = 0
        for (position, index) in indices.enumerated() {
            writer.writeVarint(position == 0 ? index : index - previous)
            previous = index
        }
    }

    private static func encodeMetadata(_ metadata: DeltaMetadata) throws(FleetWireError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(metadata))
        } catch {
            throw FleetWireError(.invalidMetadata, "the delta metadata cannot be written as JSON: \(error)")
        }
    }

    // MARK: Decoding

    /// Decompresses and decodes an uploaded body.
    public static func decodeCompressed(_ body: [UInt8], limits: DeltaLimits = .default) throws(FleetWireError) -> PolicyDelta {
        guard body.count <= limits.maxCompressedBytes else {
            throw FleetWireError(
                .compressedSizeLimitExceeded,
                "the delta body is \(body.count) bytes, more than the limit of \(limits.maxCompressedBytes)"
            )
        }
        return try decode(Zstd.decompress(body, limit: limits.maxDecompressedBytes), limits: limits)
    }

    /// Decodes an uncompressed container.
    public static func decode(_ bytes: [UInt8], limits: DeltaLimits = .default) throws(FleetWireError) -> PolicyDelta {
        try scan(bytes, limits: limits).materialize()
    }

    /// Decompresses and checks an uploaded body, leaving the values in place.
    public static func scanCompressed(_ body: [UInt8], limits: DeltaLimits = .default) throws(FleetWireError) -> ScannedDelta {
        guard body.count <= limits.maxCompressedBytes else {
            throw FleetWireError(
                .compressedSizeLimitExceeded,
                "the delta body is \(body.count) bytes, more than the limit of \(limits.maxCompressedBytes)"
            )
        }
        return try scan(Zstd.decompress(body, limit: limits.maxDecompressedBytes), limits: limits)
    }

    /// Checks an uncompressed container end to end — every length, name,
    /// shape, index, value and the checksum, exactly as ``decode(_:limits:)``
    /// does — without copying its values out.
    ///
    /// The container is kept (shared, not copied) by the result; each tensor
    /// carries its squared norm, computed in the pass that checked its values.
    public static func scan(_ bytes: [UInt8], limits: DeltaLimits = .default) throws(FleetWireError) -> ScannedDelta {
        guard bytes.count <= limits.maxDecompressedBytes else {
            throw FleetWireError(
                .limitExceeded,
                "the delta container is \(bytes.count) bytes, more than the limit of \(limits.maxDecompressedBytes)"
            )
        }
        let result: Result<ScannedDelta, FleetWireError> = bytes.withUnsafeBytes { buffer in
            do throws(FleetWireError) {
                return .success(try scan(buffer, storage: bytes, limits: limits))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func scan(_ buffer: UnsafeRawBufferPointer, storage: [UInt8], limits: DeltaLimits) throws(FleetWireError) -> ScannedDelta {
        // A container that is not in cache would otherwise be fetched one
        // miss at a time as the headers are parsed: ask for its first lines
        // all at once (the hardware prefetcher keeps up after that).
        if let base = buffer.baseAddress { fleet_prefetch(base, min(buffer.count, prefetchBytes)) }
        var reader = ByteReader(buffer)
        guard buffer.count >= magic.count + 4 else {
            throw FleetWireError(.truncated, "the delta container is \(buffer.count) bytes, too short for its header")
        }
        guard try reader.readBytes(magic.count, "the magic").elementsEqual(magic) else {
            throw FleetWireError(.badMagic, "the body does not start with the delta magic FLDELTA\\0")
        }
        let version = try reader.readInteger(UInt16.self, "the format version")
        guard version == formatVersion else {
            throw FleetWireError(.unsupportedVersion, "delta format version \(version) is not supported (this decoder reads \(formatVersion))")
        }
        let flags = try reader.readInteger(UInt16.self, "the flags")
        guard flags == 0 else {
            throw FleetWireError(.invalidField, "the flags field is \(flags); version 1 requires 0")
        }
        // Left in place: the aggregator compares these bytes with the model's.
        let architecture = try reader.readRawString16("the architecture hash", maxBytes: limits.maxNameBytes)
        let baseVersion = try reader.readInteger(UInt64.self, "the base version")
        let round = try reader.readInteger(UInt64.self, "the round")
        let nodeID = try reader.readString16("the node id", maxBytes: limits.maxNameBytes)

        let tensorCount = Int(try reader.readInteger(UInt32.self, "the tensor count"))
        guard tensorCount <= limits.maxTensors else {
            throw FleetWireError(.limitExceeded, "the delta declares \(tensorCount) tensors, more than the limit of \(limits.maxTensors)")
        }
        var tensors: [ScannedTensor] = []
        tensors.reserveCapacity(tensorCount)
        var totalElements = 0
        let indices = IndexBuffer()
        var checksum = RunningChecksum()
        for position in 0..<tensorCount {
            let tensor = try scanTensor(
                from: &reader, indices: indices, position: position, limits: limits, totalElements: &totalElements,
                checksum: &checksum)
            if position > 0 {
                let previous = tensors[position - 1].nameBytes(in: buffer)
                let current = tensor.nameBytes(in: buffer)
                if !precedes(previous, current) {
                    throw FleetWireError(
                        .invalidField,
                        "tensor '\(TensorLabel(bytes: current))' follows '\(TensorLabel(bytes: previous))': names must be unique and in increasing order")
                }
            }
            tensors.append(tensor)
        }

        let expertCount = Int(try reader.readInteger(UInt32.self, "the expert count"))
        guard expertCount <= limits.maxExperts else {
            throw FleetWireError(.limitExceeded, "the delta declares \(expertCount) experts, more than the limit of \(limits.maxExperts)")
        }
        guard expertCount * 8 <= reader.remaining else {
            throw FleetWireError(.truncated, "the input ends inside the routing counts")
        }
        // Read in place when asked for (no array per update).
        let routingCountsOffset = try reader.skip(8 * expertCount, for: "the routing counts")

        let metadataLength = Int(try reader.readInteger(UInt32.self, "the metadata length"))
        guard metadataLength <= limits.maxMetadataBytes else {
            throw FleetWireError(.limitExceeded, "the metadata is \(metadataLength) bytes, more than the limit of \(limits.maxMetadataBytes)")
        }
        let metadataStart = reader.offset
        let metadataBytes = try reader.readBytes(metadataLength, "the metadata")
        let metadata: ScannedDelta.Metadata
        if let families = CanonicalMetadataParser.canonicalFamilies(metadataBytes) {
            metadata = .canonical(
                metadataStart..<(metadataStart + metadataLength),
                families: (metadataStart + families.lowerBound)..<(metadataStart + families.upperBound))
        } else {
            metadata = .parsed(try decodeMetadata(metadataBytes))
        }

        checksum.advance(to: reader.offset, in: buffer)
        let computed = checksum.value
        let stored = try reader.readInteger(UInt32.self, "the checksum")
        guard stored == computed else {
            throw FleetWireError(.checksumMismatch, "the checksum is \(hex(stored)) but the content sums to \(hex(computed)): the delta was corrupted")
        }
        guard reader.remaining == 0 else {
            throw FleetWireError(.trailingBytes, "\(reader.remaining) bytes follow the checksum")
        }
        return ScannedDelta(
            architectureRange: architecture.offset..<(architecture.offset + architecture.count),
            baseVersion: baseVersion,
            round: round,
            nodeID: nodeID,
            tensors: tensors,
            routingCountsOffset: routingCountsOffset,
            routingCountCount: expertCount,
            metadataSource: metadata,
            storage: storage,
            indices: indices
        )
    }

    private static func scanTensor(
        from reader: inout ByteReader,
        indices indexBuffer: IndexBuffer,
        position: Int,
        limits: DeltaLimits,
        totalElements: inout Int,
        checksum: inout RunningChecksum
    ) throws(FleetWireError) -> ScannedTensor {
        // The name stays bytes in the container: a string per tensor (and its
        // reference counting) was a good part of an update's fixed cost.
        let (nameOffset, nameLength) = try reader.readRawString16("the name of tensor \(position)", maxBytes: limits.maxNameBytes)
        guard nameLength > 0 else {
            throw FleetWireError(.invalidField, "tensor \(position) has an empty name")
        }
        let name = TensorLabel(bytes: UnsafeRawBufferPointer(rebasing: reader.buffer[nameOffset..<(nameOffset + nameLength)]))
        let roleCode = try reader.readInteger(UInt8.self, "the role", of: name)
        guard let role = TensorDelta.Role(rawValue: roleCode) else {
            throw FleetWireError(.invalidField, "tensor '\(name)' has unknown role \(roleCode) (0 difference, 1 addition)")
        }
        let rank = Int(try reader.readInteger(UInt8.self, "the rank", of: name))
        guard (1...maxRank).contains(rank) else {
            throw FleetWireError(.invalidShape, "tensor '\(name)' has rank \(rank); ranks 1 to \(maxRank) are allowed")
        }
        var dims = SIMD4<Int32>()
        var elements = 1
        for axis in 0..<rank {
            let dim = Int(try reader.readInteger(UInt32.self, "dim", of: name, axis: axis))
            guard dim >= 1 else {
                throw FleetWireError(.invalidShape, "tensor '\(name)' has dim \(axis) = 0")
            }
            elements = elements.multipliedReportingOverflow(by: dim).overflow ? Int.max : elements * dim
            guard elements <= limits.maxElementsPerTensor else {
                throw FleetWireError(.limitExceeded, "tensor '\(name)' has more than \(limits.maxElementsPerTensor) elements")
            }
            dims[axis] = Int32(bitPattern: UInt32(dim))
        }
        totalElements += elements
        guard totalElements <= limits.maxTotalElements else {
            throw FleetWireError(.limitExceeded, "the delta carries more than \(limits.maxTotalElements) elements in all")
        }
        let rows = rank == 1 ? 1 : Int(UInt32(bitPattern: dims[0]))
        let columns = elements / rows
        let encodingCode = try reader.readInteger(UInt8.self, "the encoding", of: name)
        guard let encoding = ScannedTensor.Encoding(rawValue: encodingCode) else {
            throw FleetWireError(.invalidField, "tensor '\(name)' has unknown encoding \(encodingCode) (0 to 3 are defined)")
        }
        let base = reader.buffer.baseAddress!
        var scalesOffset = 0
        var indicesStart = indexBuffer.count
        var decodedStart = 0
        var valuesOffset: Int
        var valueCount: Int
        var squaredNorm: Double
        switch encoding {
        case .dense, .sparse:
            if encoding == .sparse {
                (indicesStart, valueCount) = try readIndices(from: &reader, elements: elements, name: name, into: indexBuffer)
            } else {
                valueCount = elements
            }
            valuesOffset = try reader.skip(4 * valueCount, "the values", of: name)
            var (norm, nonFinite): (Double, Int?) = (0, nil)
            // Checksum and squares in one read of the values where the CPU can;
            // a value that is not finite is found (and named) by the exact path.
            if let squares = checksum.fold(valuesOffset..<(valuesOffset + 4 * valueCount), squaresIn: reader.buffer), squares.isFinite {
                norm = squares
            } else {
                (norm, nonFinite) = PayloadKernels.squaredNorm(ofFloats: base + valuesOffset, count: valueCount)
            }
            if let nonFinite {
                let value = (base + valuesOffset).loadUnaligned(fromByteOffset: 4 * nonFinite, as: Float.self)
                throw FleetWireError(.nonFiniteValue, "tensor '\(name)' has a non-finite value (\(value)) at position \(nonFinite)")
            }
            squaredNorm = norm
        case .denseInt8, .sparseInt8:
            scalesOffset = try readScales(from: &reader, rows: rows, name: name)
            if encoding == .sparseInt8 {
                (indicesStart, valueCount) = try readIndices(from: &reader, elements: elements, name: name, into: indexBuffer)
            } else {
                valueCount = elements
            }
            valuesOffset = try reader.skip(valueCount, "the values", of: name)
            if encoding == .denseInt8 {
                squaredNorm = PayloadKernels.squaredNorm(
                    ofInt8Rows: base + valuesOffset, scales: base + scalesOffset, rows: rows, columns: columns)
            } else {
                (decodedStart, squaredNorm) = PayloadKernels.decodeSparseInt8(
                    base + valuesOffset, scales: base + scalesOffset, rows: rows, indicesStart: indicesStart, count: valueCount,
                    columns: columns, into: indexBuffer)
            }
        }
        return ScannedTensor(
            nameOffset: nameOffset, nameLength: nameLength, role: role, encoding: encoding, squaredNorm: squaredNorm,
            elementCount: elements, columns: columns, rank: rank, dims: dims, scalesOffset: scalesOffset,
            valuesOffset: valuesOffset, valueCount: valueCount, indicesStart: indicesStart, decodedStart: decodedStart
        )
    }

    /// The CRC-32C of the container's bytes up to `end`, computed as the scan
    /// goes: float32 payloads are folded into it in the same pass that sums
    /// their squares (``fold(_:squaresIn:)``), everything else on the way
    /// (``advance(to:in:)``).
    struct RunningChecksum {
        /// The checksum of bytes `0..<end`.
        private(set) var value: UInt32 = 0
        private(set) var end = 0

        static let folding = fleet_crc32c_folding_available() == 1

        /// Extends the checksum to the bytes before `offset`.
        mutating func advance(to offset: Int, in buffer: UnsafeRawBufferPointer) {
            guard offset > end else { return }
            value = CRC32C.continued(value, UnsafeRawBufferPointer(rebasing: buffer[end..<offset]))
            end = offset
        }

        /// Extends the checksum over the float32 values in `range` and returns
        /// their Σ x², or nil (and leaves the checksum as it is) when this CPU
        /// cannot fold or the range is too short to fold.
        mutating func fold(_ range: Range<Int>, squaresIn buffer: UnsafeRawBufferPointer) -> Double? {
            guard Self.folding, range.count >= 256, range.lowerBound >= end else { return nil }
            advance(to: range.lowerBound, in: buffer)
            var squares = 0.0
            value = ~fleet_crc32c_fold_squares(~value, buffer.baseAddress! + range.lowerBound, range.count, &squares)
            end = range.upperBound
            return squares
        }
    }

    /// Checks `rows` per-row scales (finite, not negative) and returns where they start.
    private static func readScales(from reader: inout ByteReader, rows: Int, name: TensorLabel) throws(FleetWireError) -> Int {
        let offset = try reader.skip(4 * rows, "the scales", of: name)
        let scales = reader.buffer.baseAddress! + offset
        // All finite and none negative is the common case: one branch-free pass
        // over the bit patterns, then the exact look only when something is off.
        if fleet_scales_clean(scales, rows) == 1 { return offset }
        var firstNonFinite = rows
        var firstNegative = rows
        for row in 0..<rows {
            let scale = scales.loadUnaligned(fromByteOffset: 4 * row, as: Float.self)
            if !scale.isFinite && firstNonFinite == rows { firstNonFinite = row }
            if scale < 0 && firstNegative == rows { firstNegative = row }
        }
        if firstNonFinite < rows {
            let scale = scales.loadUnaligned(fromByteOffset: 4 * firstNonFinite, as: Float.self)
            throw FleetWireError(.nonFiniteValue, "tensor '\(name)' has a non-finite scale (\(scale)) at position \(firstNonFinite)")
        }
        if firstNegative < rows {
            throw FleetWireError(.invalidField, "tensor '\(name)' has a negative scale in row \(firstNegative)")
        }
        return offset
    }

    /// Decodes a sparse tensor's indices into `buffer`; returns where they start and how many there are.
    private static func readIndices(
        from reader: inout ByteReader, elements: Int, name: TensorLabel, into indexBuffer: IndexBuffer
    ) throws(FleetWireError) -> (start: Int, count: Int) {
        let count = Int(try reader.readInteger(UInt32.self, "the nonzero count", of: name))
        guard count <= elements else {
            throw FleetWireError(.invalidIndex, "tensor '\(name)' declares \(count) nonzeros but has only \(elements) elements")
        }
        guard count <= reader.remaining else {
            throw FleetWireError(.truncated, "the input ends inside the indices of '\(name)'")
        }
        // Runs of sixteen one-byte, nonzero gaps (the common case) are decoded
        // a block at a time, straight from the buffer; anything else — longer
        // varints, a zero gap, an index past the end — goes one gap at a time
        // through the reader, which names the field of an error.
        let base = reader.buffer.baseAddress!
        let end = reader.buffer.count
        var failure: FleetWireError?
        // Every index takes at least one byte, so what remains bounds them all
        // (twice: int8 values are decoded into the same buffer).
        indexBuffer.reserve(count, remainingBound: 2 * reader.remaining)
        let start = indexBuffer.count
        let buffer = indexBuffer.free
        var initialized = 0
        decoding: do {
            var current: UInt64 = 0
            var offset = reader.offset
            var position = 0
            while position < count {
                var slow = 1
                if PayloadKernels.avx512 {
                    let decoded = fleet_decode_gaps_avx512(
                        base.assumingMemoryBound(to: UInt8.self) + offset, end - offset, buffer.baseAddress! + position,
                        count - position, &current, UInt64(elements))
                    position += decoded
                    offset += decoded
                    initialized = position
                    if position == count { break }
                    // A block the kernel left: its gaps one at a time.
                    slow = min(16, count - position)
                } else if position + 16 <= count && offset + 16 <= end {
                    // Sixteen one-byte, nonzero gaps (no high bit, no zero byte) at once.
                    let low = (base + offset).loadUnaligned(as: UInt64.self)
                    let high = (base + offset + 8).loadUnaligned(as: UInt64.self)
                    let ones: UInt64 = 0x0101_0101_0101_0101, tops: UInt64 = 0x8080_8080_8080_8080
                    let zeroByte = ((low &- ones) & ~low | (high &- ones) & ~high) & tops
                    if (low | high) & tops == 0 && zeroByte == 0 {
                        let before = current
                        for lane in 0..<16 {
                            current &+= ((lane < 8 ? low >> (8 * lane) : high >> (8 * (lane - 8))) & 0xFF)
                            buffer[position + lane] = UInt32(truncatingIfNeeded: current)
                        }
                        initialized = position + 16
                        guard current < UInt64(elements) else {
                            var index = before
                            for lane in 0..<16 {
                                index += UInt64(base.load(fromByteOffset: offset + lane, as: UInt8.self))
                                if index >= UInt64(elements) { break }
                            }
                            failure = FleetWireError(.invalidIndex, "tensor '\(name)' has index \(index), past its \(elements) elements")
                            break decoding
                        }
                        position += 16
                        offset += 16
                        continue
                    }
                }
                for _ in 0..<slow {
                    let gap: UInt64
                    if offset < end, case let byte = base.load(fromByteOffset: offset, as: UInt8.self), byte < 0x80 {
                        gap = UInt64(byte)
                        offset += 1
                    } else {
                        reader.move(to: offset)
                        do throws(FleetWireError) {
                            gap = UInt64(try reader.readVarint("index \(position) of '\(name)'"))
                        } catch {
                            failure = error
                            break decoding
                        }
                        offset = reader.offset
                    }
                    if position > 0 && gap == 0 {
                        failure = FleetWireError(.invalidIndex, "tensor '\(name)' repeats index \(current)")
                        break decoding
                    }
                    current += gap
                    guard current < UInt64(elements) else {
                        failure = FleetWireError(.invalidIndex, "tensor '\(name)' has index \(current), past its \(elements) elements")
                        break decoding
                    }
                    buffer[position] = UInt32(current)
                    initialized = position + 1
                    position += 1
                }
            }
            reader.move(to: offset)
        }
        indexBuffer.commit(initialized)
        if let failure { throw failure }
        return (start, count)
    }

    private static func checkFinite(_ values: [Float], _ what: String, _ name: String) throws(FleetWireError) {
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw FleetWireError(.nonFiniteValue, "tensor '\(name)' has a non-finite \(what) (\(values[bad])) at position \(bad)")
        }
    }

    private static func decodeMetadata(_ bytes: UnsafeRawBufferPointer) throws(FleetWireError) -> DeltaMetadata {
        let metadata: DeltaMetadata
        if let parsed = CanonicalMetadataParser.parse(bytes) {
            metadata = parsed
        } else {
            do {
                metadata = try JSONDecoder().decode(DeltaMetadata.self, from: Data(bytes))
            } catch {
                throw FleetWireError(.invalidMetadata, "the delta metadata is not the expected JSON object: \(error)")
            }
        }
        if metadata.samples < 0 || metadata.captures < 0 {
            throw FleetWireError(.invalidMetadata, "the delta metadata has a negative sample or capture count")
        }
        if let bad = metadata.metrics.first(where: { !$0.value.isFinite }) {
            throw FleetWireError(.invalidMetadata, "the delta metric '\(bad.key)' is not finite")
        }
        return metadata
    }

    // MARK: Validation

    /// Checks that a delta is well formed and within `limits` — what the
    /// decoder enforces, applied to a delta built in memory before encoding.
    public static func validate(_ delta: PolicyDelta, limits: DeltaLimits = .default) throws(FleetWireError) {
        guard delta.tensors.count <= limits.maxTensors else {
            throw FleetWireError(.limitExceeded, "the delta has \(delta.tensors.count) tensors, more than the limit of \(limits.maxTensors)")
        }
        for field in [delta.architecture, delta.nodeID] where field.utf8.count > limits.maxNameBytes {
            throw FleetWireError(.limitExceeded, "'\(field.prefix(40))…' is longer than \(limits.maxNameBytes) bytes")
        }
        guard delta.routingCounts.count <= limits.maxExperts else {
            throw FleetWireError(.limitExceeded, "the delta has \(delta.routingCounts.count) routing counts, more than the limit of \(limits.maxExperts)")
        }
        var previousName: String?
        for tensor in delta.tensors {
            if let previousName, !previousName.utf8.lexicographicallyPrecedes(tensor.name.utf8) {
                throw FleetWireError(.invalidField, "tensor name '\(tensor.name)' appears twice")
            }
            previousName = tensor.name
            try validate(tensor, limits: limits)
        }
    }

    private static func validate(_ tensor: TensorDelta, limits: DeltaLimits) throws(FleetWireError) {
        let name = tensor.name
        guard !name.isEmpty, name.utf8.count <= limits.maxNameBytes else {
            throw FleetWireError(.invalidField, "tensor name '\(name.prefix(40))' is empty or longer than \(limits.maxNameBytes) bytes")
        }
        guard (1...maxRank).contains(tensor.shape.count), tensor.shape.allSatisfy({ $0 >= 1 && $0 <= Int(UInt32.max) }) else {
            throw FleetWireError(.invalidShape, "tensor '\(name)' has shape \(tensor.shape); 1 to \(maxRank) dims, each ≥ 1")
        }
        let elements = tensor.elementCount
        guard elements <= limits.maxElementsPerTensor else {
            throw FleetWireError(.limitExceeded, "tensor '\(name)' has \(elements) elements, more than \(limits.maxElementsPerTensor)")
        }
        func checkIndices(_ indices: [UInt32], valueCount: Int) throws(FleetWireError) {
            guard indices.count == valueCount else {
                throw FleetWireError(.invalidShape, "tensor '\(name)' has \(indices.count) indices but \(valueCount) values")
            }
            var previous: UInt32?
            for index in indices {
                guard Int(index) < elements, previous.map({ index > $0 }) ?? true else {
                    throw FleetWireError(.invalidIndex, "tensor '\(name)' has index \(index) out of order or past \(elements) elements")
                }
                previous = index
            }
        }
        func checkScales(_ scales: [Float]) throws(FleetWireError) {
            guard scales.count == tensor.rows else {
                throw FleetWireError(.invalidShape, "tensor '\(name)' has \(scales.count) scales for \(tensor.rows) rows")
            }
            guard scales.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw FleetWireError(.nonFiniteValue, "tensor '\(name)' has a negative or non-finite scale")
            }
        }
        switch tensor.payload {
        case .dense(let values):
            guard values.count == elements else {
                throw FleetWireError(.invalidShape, "tensor '\(name)' has \(values.count) values for shape \(tensor.shape)")
            }
            try checkFinite(values, "value", name)
        case .sparse(let indices, let values):
            try checkIndices(indices, valueCount: values.count)
            try checkFinite(values, "value", name)
        case .denseInt8(let scales, let values):
            try checkScales(scales)
            guard values.count == elements else {
                throw FleetWireError(.invalidShape, "tensor '\(name)' has \(values.count) values for shape \(tensor.shape)")
            }
        case .sparseInt8(let scales, let indices, let values):
            try checkScales(scales)
            try checkIndices(indices, valueCount: values.count)
        }
    }

    /// Whether `a` sorts before `b` by their UTF-8 bytes (memcmp on the common prefix, then length).
    private static func precedes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let common = min(a.count, b.count)
        let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
        return order < 0 || (order == 0 && a.count < b.count)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
