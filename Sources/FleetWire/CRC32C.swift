import CFleetWireKernels

/// CRC-32C (Castagnoli), the checksum that closes every delta container.
///
/// It catches the corruption a transport or a disk can introduce; it is not
/// a signature (authenticity comes from mutual TLS and model signing).
/// Polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final XOR
/// 0xFFFFFFFF; `CRC32C.checksum("123456789")` is 0xE3069283.
///
/// The decoder checks every container byte before anything of it counts, so
/// the checksum sits on the aggregation hot path: on x86-64 it runs on the
/// CPU's `crc32` instruction (three interleaved chains, about 8 bytes per
/// cycle); elsewhere on slicing-by-8 tables (about 1 byte per cycle).
public enum CRC32C {
    private static let hardware = fleet_crc32c_hardware_available() == 1

    private static let table: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][byte] = crc
        }
        for byte in 0..<256 {
            for slice in 1..<8 {
                let previous = tables[slice - 1][byte]
                tables[slice][byte] = (previous >> 8) ^ tables[0][Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        let contiguous = bytes.withContiguousStorageIfAvailable { checksum(UnsafeRawBufferPointer($0)) }
        return contiguous ?? Array(bytes).withUnsafeBytes { checksum($0) }
    }

    /// The checksum of the bytes in `buffer`.
    static func checksum(_ buffer: UnsafeRawBufferPointer) -> UInt32 {
        continued(0, buffer)
    }

    /// The checksum of the bytes summed to `checksum`, followed by those in `buffer`.
    static func continued(_ checksum: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return checksum }
        if hardware {
            return ~fleet_crc32c_hardware_update(~checksum, base, buffer.count)
        }
        return update(checksum, buffer.assumingMemoryBound(to: UInt8.self))
    }

    /// Slicing-by-8: eight table look-ups per eight input bytes.
    private static func update(_ initial: UInt32, _ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc = ~initial
        var index = 0
        let count = buffer.count
        table.withUnsafeBufferPointer { t in
            let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
            while index + 8 <= count {
                let low = crc ^ (UInt32(buffer[index]) | UInt32(buffer[index + 1]) << 8
                    | UInt32(buffer[index + 2]) << 16 | UInt32(buffer[index + 3]) << 24)
                crc = t7[Int(low & 0xFF)] ^ t6[Int((low >> 8) & 0xFF)]
                    ^ t5[Int((low >> 16) & 0xFF)] ^ t4[Int(low >> 24)]
                    ^ t3[Int(buffer[index + 4])] ^ t2[Int(buffer[index + 5])]
                    ^ t1[Int(buffer[index + 6])] ^ t0[Int(buffer[index + 7])]
                index += 8
            }
            while index < count {
                crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(buffer[index])) & 0xFF)]
                index += 1
            }
        }
        return ~crc
    }
}
