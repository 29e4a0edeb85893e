/// Appends little-endian fields to a growing byte buffer.
///
/// The wire formats of the fleet are fixed little-endian layouts; this keeps
/// their encoders to one line per field.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    mutating func write(_ value: UInt8) { bytes.append(value) }

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ value: Float) { write(value.bitPattern) }

    mutating func write(_ values: [Float]) {
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for value in values { write(value.bitPattern) }
    }

    mutating func write(_ values: [Int8]) {
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func write(raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }

    /// A `u16` byte count followed by the UTF-8 bytes.
    mutating func writeString16(_ string: String) {
        let utf8 = Array(string.utf8)
        precondition(utf8.count <= Int(UInt16.max), "string16 fields hold at most 65535 bytes")
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Unsigned LEB128.
    mutating func writeVarint(_ value: UInt32) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }
}
