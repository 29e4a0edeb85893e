/// Reads little-endian fields from untrusted bytes, never past their end.
///
/// Every read checks the remaining length first and throws a `truncated`
/// error naming the field, so a decoder built on it cannot crash on short or
/// hostile input.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    /// The bytes read so far, for checksums over a prefix.
    func consumedBytes() -> ArraySlice<UInt8> { bytes[..<offset] }

    private mutating func take(_ count: Int, for field: String) throws(FleetWireError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw FleetWireError(.truncated, "the input ends inside \(field) (needs \(count) bytes, \(remaining) left at offset \(offset))")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(FleetWireError) -> T {
        let slice = try take(MemoryLayout<T>.size, for: field)
        var value: T = 0
        for (shift, byte) in slice.enumerated() {
            value |= T(byte) << (8 * shift)
        }
        return value
    }

    mutating func readFloat(_ field: String) throws(FleetWireError) -> Float {
        Float(bitPattern: try readInteger(UInt32.self, field))
    }

    mutating func readFloats(_ count: Int, _ field: String) throws(FleetWireError) -> [Float] {
        let slice = try take(4 * count, for: field)
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { destination in
            slice.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
        #if _endian(big)
        for index in values.indices { values[index] = Float(bitPattern: values[index].bitPattern.byteSwapped) }
        #endif
        return values
    }

    mutating func readInt8s(_ count: Int, _ field: String) throws(FleetWireError) -> [Int8] {
        let slice = try take(count, for: field)
        return slice.map { Int8(bitPattern: $0) }
    }

    mutating func readBytes(_ count: Int, _ field: String) throws(FleetWireError) -> ArraySlice<UInt8> {
        try take(count, for: field)
    }

    mutating func readString16(_ field: String, maxBytes: Int) throws(FleetWireError) -> String {
        let length = Int(try readInteger(UInt16.self, "the length of \(field)"))
        guard length <= maxBytes else {
            throw FleetWireError(.limitExceeded, "\(field) is \(length) bytes long, more than the limit of \(maxBytes)")
        }
        let slice = try take(length, for: field)
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw FleetWireError(.invalidField, "\(field) is not valid UTF-8")
        }
        return string
    }

    /// Unsigned LEB128 of at most 5 bytes holding a value below 2³².
    mutating func readVarint(_ field: String) throws(FleetWireError) -> UInt32 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            let byte = try readInteger(UInt8.self, field)
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 {
                guard value <= UInt64(UInt32.max) else { break }
                return UInt32(value)
            }
        }
        throw FleetWireError(.invalidField, "\(field) is not a varint below 2^32")
    }
}
