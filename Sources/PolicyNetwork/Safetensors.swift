#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// Reading and writing the safetensors checkpoint format.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON
/// `{"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [..],
/// "data_offsets": [begin, end]}, ...}` (padded with spaces to a multiple of 8),
/// then the raw little-endian tensor data; offsets are relative to the start of
/// the data. It is what Python's `safetensors` reads and writes, it needs no
/// code execution to load (unlike pickle), and a reader can validate every
/// tensor's bounds from the header before touching the data.
public enum Safetensors {
    /// What a reader accepts at most; a hostile or corrupt file is refused early.
    public struct Limits: Sendable {
        /// Largest JSON header in bytes.
        public var maximumHeaderBytes: Int = 16 << 20
        /// Most tensors in one file.
        public var maximumTensors: Int = 65_536
        /// Most dimensions of one tensor.
        public var maximumRank: Int = 8

        /// The default limits: 16 MiB of header, 65,536 tensors, rank ≤ 8.
        public init() {}
    }

    /// The contents of a file: tensors converted to Float32, in data order, and the metadata.
    public struct Contents: Sendable, Equatable {
        /// The tensors, ordered by their position in the data section.
        public var parameters: ParameterSet
        /// The `__metadata__` string pairs (empty when absent).
        public var metadata: [String: String]

        public init(parameters: ParameterSet, metadata: [String: String]) {
            self.parameters = parameters
            self.metadata = metadata
        }
    }

    enum DType: String {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
        var size: Int {
            switch self {
            case .f32: 4
            case .f16, .bf16: 2
            case .f64: 8
            }
        }
    }

    // MARK: Writing

    /// Encodes `parameters` as F32 tensors in their order, with `metadata` in `__metadata__`.
    public static func encode(_ parameters: ParameterSet, metadata: [String: String] = [:]) -> [UInt8] {
        var header = "{"
        var members: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { JSONWriter.quoted($0.key) + ":" + JSONWriter.quoted($0.value) }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for element in parameters {
            let end = offset + element.tensor.count * 4
            let shape = element.tensor.shape.map(String.init).joined(separator: ",")
            members.append(
                JSONWriter.quoted(element.name) + ":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += members.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        for element in parameters {
            element.tensor.withUnsafeBufferPointer { values in
                for value in values {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
            }
        }
        return bytes
    }

    /// Writes a file atomically: a reader sees the old file or the new one, never half of one.
    public static func write(
        _ parameters: ParameterSet, metadata: [String: String] = [:], to path: String
    ) throws(SafetensorsError) {
        let bytes = encode(parameters, metadata: metadata)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SafetensorsError(.ioFailure, "Could not write '\(path)': \(error)", context: ["path": path])
        }
    }

    // MARK: Reading

    /// Reads a file; see ``decode(_:limits:)``.
    public static func read(from path: String, limits: Limits = Limits()) throws(SafetensorsError) -> Contents {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SafetensorsError(.ioFailure, "Could not read '\(path)': \(error)", context: ["path": path])
        }
        return try decode([UInt8](data), limits: limits)
    }

    /// Decodes a complete file image, converting F32/F16/BF16/F64 tensors to Float32.
    ///
    /// Checks, in order: the length prefix and header fit in the file; the header
    /// is a JSON object whose entries all have a known dtype, a shape and two
    /// offsets; each range holds exactly the shape's bytes and lies inside the
    /// data; ranges do not overlap and cover the data section exactly.
    public static func decode(_ bytes: [UInt8], limits: Limits = Limits()) throws(SafetensorsError) -> Contents {
        guard bytes.count >= 8 else {
            throw SafetensorsError(
                .truncated, "A safetensors file starts with an 8-byte header length; this one has \(bytes.count) bytes.")
        }
        var headerLength: UInt64 = 0
        for i in (0..<8).reversed() { headerLength = headerLength << 8 | UInt64(bytes[i]) }
        guard headerLength <= UInt64(limits.maximumHeaderBytes) else {
            throw SafetensorsError(
                .headerTooLarge, "The header declares \(headerLength) bytes; the limit is \(limits.maximumHeaderBytes).",
                context: ["headerLength": "\(headerLength)"])
        }
        let headerEnd = 8 + Int(headerLength)
        guard headerEnd <= bytes.count else {
            throw SafetensorsError(
                .truncated, "The header declares \(headerLength) bytes but the file has only \(bytes.count - 8) after the length.",
                context: ["headerLength": "\(headerLength)", "fileSize": "\(bytes.count)"])
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(Array(bytes[8..<headerEnd]))
        } catch {
            throw SafetensorsError(
                .invalidHeaderJSON, "The header is not valid JSON: \(error.message) at byte \(error.offset).",
                context: ["offset": "\(error.offset)"])
        }
        guard case .object(let members) = root else {
            throw SafetensorsError(.invalidHeaderJSON, "The header must be a JSON object.")
        }
        guard members.count <= limits.maximumTensors + 1 else {
            throw SafetensorsError(
                .limitExceeded, "The header lists \(members.count) entries; the limit is \(limits.maximumTensors).")
        }

        struct Entry {
            var name: String
            var dtype: DType
            var shape: [Int]
            var begin: Int
            var end: Int
        }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        let dataLength = bytes.count - headerEnd
        for member in members {
            let name = member.key, value = member.value
            if name == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw SafetensorsError(.invalidEntry, "__metadata__ must be an object of strings.")
                }
                for pair in pairs {
                    let key = pair.key, item = pair.value
                    guard case .string(let text) = item else {
                        throw SafetensorsError(
                            .invalidEntry, "__metadata__ value for '\(key)' must be a string.", context: ["key": key])
                    }
                    metadata[key] = text
                }
                continue
            }
            entries.append(try parseEntry(name, value, dataLength: dataLength, limits: limits))
        }

        // Ranges must tile the data section exactly.
        let ordered = entries.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for entry in ordered {
            if entry.begin < covered {
                throw SafetensorsError(
                    .overlappingOffsets, "Tensor '\(entry.name)' begins at \(entry.begin), inside the previous tensor (ending at \(covered)).",
                    context: ["tensor": entry.name])
            }
            if entry.begin > covered {
                throw SafetensorsError(
                    .incompleteCoverage, "Bytes \(covered)..<\(entry.begin) of the data belong to no tensor.",
                    context: ["tensor": entry.name])
            }
            covered = entry.end
        }
        guard covered == dataLength else {
            throw SafetensorsError(
                .incompleteCoverage, "The data section has \(dataLength) bytes but the tensors cover \(covered).",
                context: ["dataLength": "\(dataLength)"])
        }

        var parameters = ParameterSet()
        for entry in ordered {
            let count = entry.shape.reduce(1, *)
            var scalars = [Float](repeating: 0, count: count)
            let start = headerEnd + entry.begin
            convert(bytes, from: start, dtype: entry.dtype, into: &scalars)
            do {
                try parameters.append(entry.name, Tensor(shape: entry.shape, scalars: scalars))
            } catch {
                throw SafetensorsError(.invalidEntry, "Tensor '\(entry.name)': \(error.message)", context: ["tensor": entry.name])
            }
        }
        return Contents(parameters: parameters, metadata: metadata)

        func parseEntry(_ name: String, _ value: JSONValue, dataLength: Int, limits: Limits) throws(SafetensorsError) -> Entry {
            guard case .object(let fields) = value else {
                throw SafetensorsError(.invalidEntry, "Entry '\(name)' must be an object.", context: ["tensor": name])
            }
            var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
            for member in fields {
                let key = member.key, field = member.value
                switch key {
                case "dtype": dtypeValue = field
                case "shape": shapeValue = field
                case "data_offsets": offsetsValue = field
                default:
                    throw SafetensorsError(
                        .invalidEntry, "Entry '\(name)' has an unknown field '\(key)'.", context: ["tensor": name])
                }
            }
            guard case .string(let dtypeName)? = dtypeValue else {
                throw SafetensorsError(.invalidEntry, "Entry '\(name)' lacks a string 'dtype'.", context: ["tensor": name])
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SafetensorsError(
                    .unsupportedDType, "Tensor '\(name)' has dtype \(dtypeName); supported are F32, F16, BF16 and F64.",
                    context: ["tensor": name, "dtype": dtypeName])
            }
            guard case .array(let dimensions)? = shapeValue else {
                throw SafetensorsError(.invalidEntry, "Entry '\(name)' lacks a 'shape' array.", context: ["tensor": name])
            }
            guard dimensions.count <= limits.maximumRank else {
                throw SafetensorsError(
                    .limitExceeded, "Tensor '\(name)' has \(dimensions.count) dimensions; the limit is \(limits.maximumRank).",
                    context: ["tensor": name])
            }
            var shape: [Int] = []
            var elementCount = 1
            for dimension in dimensions {
                guard let extent = dimension.nonNegativeInteger else {
                    throw SafetensorsError(
                        .invalidEntry, "Tensor '\(name)' has a shape entry that is not a non-negative integer.",
                        context: ["tensor": name])
                }
                let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= dataLength else {
                    throw SafetensorsError(
                        .shapeSizeMismatch, "Tensor '\(name)' declares shape \(dimensions.count)-d with more elements than the file has bytes.",
                        context: ["tensor": name])
                }
                elementCount = product
                shape.append(extent)
            }
            guard case .array(let offsets)? = offsetsValue, offsets.count == 2,
                let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger
            else {
                throw SafetensorsError(
                    .invalidEntry, "Entry '\(name)' needs 'data_offsets' [begin, end] of non-negative integers.",
                    context: ["tensor": name])
            }
            guard begin <= end, end <= dataLength else {
                throw SafetensorsError(
                    .offsetsOutOfBounds, "Tensor '\(name)' spans bytes \(begin)..<\(end) but the data section has \(dataLength).",
                    context: ["tensor": name, "begin": "\(begin)", "end": "\(end)"])
            }
            guard end - begin == elementCount * dtype.size else {
                throw SafetensorsError(
                    .shapeSizeMismatch,
                    "Tensor '\(name)' of shape \(shape) and dtype \(dtype.rawValue) needs \(elementCount * dtype.size) bytes, its range has \(end - begin).",
                    context: ["tensor": name])
            }
            return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
    }

    private static func convert(_ bytes: [UInt8], from start: Int, dtype: DType, into scalars: inout [Float]) {
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            scalars.withUnsafeMutableBufferPointer { out in
                switch dtype {
                case .f32:
                    for i in 0..<out.count {
                        out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    }
                case .f64:
                    for i in 0..<out.count {
                        out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                    }
                case .bf16:
                    for i in 0..<out.count {
                        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                        out[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                case .f16:
                    for i in 0..<out.count {
                        out[i] = halfToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                    }
                }
            }
        }
    }

    /// IEEE 754 binary16 → binary32, including subnormals, infinities and NaN.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }
}
