/// Reads little-endian fields from untrusted bytes, never past their end.
///
/// Every read checks the remaining length first and throws a `truncated`
/// error naming the field, so a decoder built on it cannot crash on short or
/// hostile input. Field names are autoclosures: building the text of an
/// error costs nothing until there is one, which keeps the reader fast on
/// the aggregation path. The reader borrows its bytes; it lives inside the
/// owner's `withUnsafeBytes`.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var remaining: Int { buffer.count - offset }

    /// The bytes read so far, for checksums over a prefix.
    func consumedBytes() -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[..<offset]) }

    /// Continues at `offset` (a position a caller reached reading the buffer directly).
    mutating func move(to offset: Int) {
        precondition(offset >= 0 && offset <= buffer.count)
        self.offset = offset
    }

    /// Moves past `count` bytes and returns where they start.
    mutating func skip(_ count: Int, for field: @autoclosure () -> String) throws(FleetWireError) -> Int {
        guard count >= 0, count <= remaining else {
            throw FleetWireError(.truncated, "the input ends inside \(field()) (needs \(count) bytes, \(remaining) left at offset \(offset))")
        }
        defer { offset += count }
        return offset
    }

    /// A field of a named tensor, e.g. "the role of 'router.weight'" or
    /// "dim 1 of 'router.weight'": the text is built only for an error, and
    /// the name stays bytes in the container until then (no string per tensor).
    /// Inlined (a tensor header is a dozen such fields); the error's text is built out of line.
    @inline(__always)
    mutating func skip(_ count: Int, _ what: StaticString, of tensor: TensorLabel, axis: Int? = nil) throws(FleetWireError) -> Int {
        guard count >= 0, count <= remaining else {
            throw truncated(count, what, of: tensor, axis: axis)
        }
        defer { offset += count }
        return offset
    }

    @inline(never)
    private func truncated(_ count: Int, _ what: StaticString, of tensor: TensorLabel, axis: Int?) -> FleetWireError {
        let field = axis.map { "\(what) \($0) of '\(tensor)'" } ?? "\(what) of '\(tensor)'"
        return FleetWireError(.truncated, "the input ends inside \(field) (needs \(count) bytes, \(remaining) left at offset \(offset))")
    }

    @inline(__always)
    mutating func readInteger<T: FixedWidthInteger>(
        _: T.Type, _ what: StaticString, of tensor: TensorLabel, axis: Int? = nil
    ) throws(FleetWireError) -> T {
        let start = try skip(MemoryLayout<T>.size, what, of: tensor, axis: axis)
        return T(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: T.self))
    }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(FleetWireError) -> T {
        let start = try skip(MemoryLayout<T>.size, for: field())
        return T(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: T.self))
    }

    mutating func readBytes(_ count: Int, _ field: @autoclosure () -> String) throws(FleetWireError) -> UnsafeRawBufferPointer {
        let start = try skip(count, for: field())
        return UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
    }

    mutating func readString16(_ field: @autoclosure () -> String, maxBytes: Int) throws(FleetWireError) -> String {
        let length = Int(try readInteger(UInt16.self, "the length of \(field())"))
        guard length <= maxBytes else {
            throw FleetWireError(.limitExceeded, "\(field()) is \(length) bytes long, more than the limit of \(maxBytes)")
        }
        let bytes = try readBytes(length, field()).assumingMemoryBound(to: UInt8.self)
        // Names are ASCII in practice, and ASCII needs no validation.
        if bytes.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw FleetWireError(.invalidField, "\(field()) is not valid UTF-8")
        }
        return string
    }

    /// A length-prefixed UTF-8 field left in place: checks its length and
    /// encoding and returns where its bytes start and how many there are.
    /// Builds no string (names are compared as bytes on the aggregation path).
    mutating func readRawString16(_ field: @autoclosure () -> String, maxBytes: Int) throws(FleetWireError) -> (offset: Int, count: Int) {
        let length = Int(try readInteger(UInt16.self, "the length of \(field())"))
        guard length <= maxBytes else {
            throw FleetWireError(.limitExceeded, "\(field()) is \(length) bytes long, more than the limit of \(maxBytes)")
        }
        let start = try skip(length, for: field())
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + length)])
        guard TensorLabel.isValidUTF8(bytes) else {
            throw FleetWireError(.invalidField, "\(field()) is not valid UTF-8")
        }
        return (start, length)
    }

    /// Unsigned LEB128 of at most 5 bytes holding a value below 2³².
    mutating func readVarint(_ field: @autoclosure () -> String) throws(FleetWireError) -> UInt32 {
        // One-byte gaps are the common case in top-k indices.
        if offset < buffer.count {
            let first = buffer[offset]
            if first & 0x80 == 0 {
                offset += 1
                return UInt32(first)
            }
        }
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            let byte = try readInteger(UInt8.self, field())
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 {
                guard value <= UInt64(UInt32.max) else { break }
                return UInt32(value)
            }
        }
        throw FleetWireError(.invalidField, "\(field()) is not a varint below 2^32")
    }
}

/// A tensor's name as it lies in the container: text only when an error
/// message needs it.
struct TensorLabel: CustomStringConvertible {
    let bytes: UnsafeRawBufferPointer

    var description: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether `bytes` are valid UTF-8; ASCII (names in practice) is checked
    /// eight bytes at a time and needs nothing more.
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var high: UInt64 = 0
        var offset = 0
        while offset + 8 <= bytes.count {
            high |= base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < bytes.count {
            high |= UInt64(base.load(fromByteOffset: offset, as: UInt8.self))
            offset += 1
        }
        if high & 0x8080_8080_8080_8080 == 0 { return true }
        return String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self) != nil
    }
}
