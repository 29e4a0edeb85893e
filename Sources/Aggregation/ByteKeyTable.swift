#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of byte strings (node ids, family names), each given a number in
/// the order it was first inserted.
///
/// Every update is checked against the round's contributors and counted
/// under its families; a `Set<String>` hashes with SipHash, and a scanned
/// update's families would first have to become strings. Here keys are
/// looked up by their UTF-8 bytes in an open-addressed table (load ≤ ½) over
/// one byte arena, hashed eight bytes at a time with a multiply–xorshift mix
/// keyed by a per-table random seed, so nobody can precompute colliding keys.
struct ByteKeyTable: Sendable {
    /// Key numbers, −1 where empty; the count is a power of two.
    private var slots = [Int32](repeating: -1, count: 16)
    /// Every key's bytes, one after another.
    private var arena: [UInt8] = []
    /// Where key k ends in the arena (it starts where key k − 1 ends).
    private var ends: [Int] = []
    private let seed = UInt64.random(in: .min ... .max) | 1

    /// Number of distinct keys.
    var count: Int { ends.count }

    /// The number of the key with these bytes, if present.
    func find(_ key: UnsafeRawBufferPointer) -> Int? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash(key)) & mask
        while true {
            let number = Int(slots[slot])
            if number < 0 { return nil }
            if matches(number, key) { return number }
            slot = (slot + 1) & mask
        }
    }

    /// The number of the key with these bytes, added if it is new.
    mutating func insert(_ key: UnsafeRawBufferPointer) -> (number: Int, inserted: Bool) {
        if let number = find(key) { return (number, false) }
        if 2 * (count + 1) > slots.count { grow() }
        let number = count
        arena.append(contentsOf: key)
        ends.append(arena.count)
        place(number, hash: hash(key))
        return (number, true)
    }

    /// Key `number` as text.
    func string(_ number: Int) -> String {
        arena.withUnsafeBufferPointer { arena in
            String(decoding: UnsafeBufferPointer(rebasing: arena[start(number)..<ends[number]]), as: UTF8.self)
        }
    }

    private func start(_ number: Int) -> Int { number == 0 ? 0 : ends[number - 1] }

    private func matches(_ number: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let start = start(number)
        guard ends[number] - start == key.count else { return false }
        return key.isEmpty || arena.withUnsafeBytes { memcmp($0.baseAddress! + start, key.baseAddress!, key.count) == 0 }
    }

    private mutating func place(_ number: Int, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(number)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: 2 * slots.count)
        for number in 0..<count {
            let range = start(number)..<ends[number]
            let hash: UInt64 = arena.withUnsafeBytes { self.hash(UnsafeRawBufferPointer(rebasing: $0[range])) }
            place(number, hash: hash)
        }
    }

    private func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h = seed ^ UInt64(key.count)
        var offset = 0
        @inline(__always) func mix(_ word: UInt64) {
            h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 32
        }
        while offset + 8 <= key.count {
            mix(key.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        if offset < key.count {
            var tail: UInt64 = 0
            for index in offset..<key.count { tail |= UInt64(key[index]) << (8 * UInt64(index - offset)) }
            mix(tail)
        }
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }
}

extension String {
    /// Calls `body` with the string's UTF-8 bytes (contiguous for native strings; copied otherwise).
    func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}
