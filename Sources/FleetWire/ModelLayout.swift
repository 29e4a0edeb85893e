public import PolicyNetwork

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The names and shapes of a model's tensors, and which expert owns each.
///
/// Everything that checks or combines deltas needs exactly this much of the
/// model and nothing more: a delta is valid if its tensors exist here with
/// these shapes, and an expert's tensors are averaged with that expert's
/// routing counts as weights.
public struct ModelLayout: Sendable, Equatable {
    /// One tensor of the model.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        /// The expert the tensor belongs to; nil for shared tensors (the router).
        public let expert: Int?

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The architecture hash deltas against this model must carry.
    public let architecture: String
    /// Every tensor, in the model's canonical order.
    public let entries: [Entry]
    /// How many experts the model has.
    public let expertCount: Int
    private let indexByName: [String: Int]
    private let names: NameTable
    /// Per entry, what the aggregation path reads for every tensor of every
    /// update, as plain values (no array to retain per look-up).
    private let packed: [Packed]

    private struct Packed: Sendable, Equatable {
        let elementCount: Int
        /// The expert, or −1 for a shared tensor.
        let expert: Int
        /// 0 when a dim does not fit 32 bits (then no container tensor can match).
        let rank: Int
        let dims: SIMD4<Int32>
    }

    /// A layout from names and shapes; an expert's tensors are named `experts.<i>.…`.
    public init(architecture: String, tensors: [(name: String, shape: [Int])]) {
        self.architecture = architecture
        entries = tensors.map { Entry(name: $0.name, shape: $0.shape, expert: MoEPolicy.expertIndex(ofParameter: $0.name)) }
        expertCount = (entries.compactMap(\.expert).max() ?? -1) + 1
        indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
        names = NameTable(entries.map(\.name))
        packed = entries.map { entry in
            var dims = SIMD4<Int32>()
            let fits = entry.shape.count <= 4 && entry.shape.allSatisfy { $0 >= 1 && $0 <= Int(UInt32.max) }
            if fits {
                for (axis, dim) in entry.shape.enumerated() { dims[axis] = Int32(bitPattern: UInt32(dim)) }
            }
            return Packed(elementCount: entry.elementCount, expert: entry.expert ?? -1, rank: fits ? entry.shape.count : 0, dims: dims)
        }
    }

    /// The layout of `policy`.
    public init(policy: MoEPolicy) {
        let parameters = policy.parameterSet()
        self.init(
            architecture: policy.architecture.hash,
            tensors: parameters.names.map { ($0, parameters.shape(of: $0) ?? []) }
        )
    }

    /// The expert a tensor of that name belongs to (`experts.<i>.…`); nil for shared tensors.
    public static func expertIndex(ofTensorNamed name: String) -> Int? {
        MoEPolicy.expertIndex(ofParameter: name)
    }

    /// The entry of that name, if the model has it.
    public subscript(name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The position of that name in ``entries``, if the model has it.
    public func index(of name: String) -> Int? {
        names.index(of: name) ?? indexByName[name]
    }

    /// The position of the tensor whose name has these UTF-8 bytes, if the model has it.
    public func index(ofUTF8 name: UnsafeRawBufferPointer) -> Int? {
        names.index(ofUTF8: name)
    }

    /// Elements of entry `index` (the product of its shape).
    public func elementCount(at index: Int) -> Int { packed[index].elementCount }

    /// The expert entry `index` belongs to; nil for shared tensors.
    public func expert(at index: Int) -> Int? {
        let expert = packed[index].expert
        return expert < 0 ? nil : expert
    }

    /// Whether entry `index` has `rank` dims equal to the first `rank` of `dims` (as 32-bit patterns).
    func hasShape(_ index: Int, rank: Int, dims: SIMD4<Int32>) -> Bool {
        let entry = packed[index]
        guard entry.rank == rank else { return false }
        for axis in 0..<rank where entry.dims[axis] != dims[axis] { return false }
        return true
    }

    /// Total number of parameters.
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.elementCount } }
}

/// Positions of a layout's tensor names, looked up by their UTF-8 bytes.
///
/// Every update names each tensor it carries, and the aggregator looks every
/// name up; a `Dictionary<String, Int>` hashes with SipHash (built to resist
/// chosen keys, and slow for it). Here a name is hashed eight bytes at a time
/// (multiply and xor-shift) into an open-addressed table twice the size of
/// the layout, and the slot's name compared byte for byte against one flat
/// copy of all names — a name an attacker chose can only cost a few more
/// probes in a table of a few dozen names.
struct NameTable: Sendable, Equatable {
    private let slots: [Int32]
    /// Every name's bytes, one after another; name i is `arena[starts[i]..<starts[i + 1]]`.
    private let arena: [UInt8]
    private let starts: [Int]

    init(_ names: [String]) {
        var size = 8
        while size < 2 * names.count { size *= 2 }
        var slots = [Int32](repeating: -1, count: size)
        var arena: [UInt8] = []
        var starts = [0]
        for name in names {
            arena.append(contentsOf: name.utf8)
            starts.append(arena.count)
        }
        for index in names.indices {
            let hash = arena.withUnsafeBytes { Self.hash(UnsafeRawBufferPointer(rebasing: $0[starts[index]..<starts[index + 1]])) }
            var slot = Int(truncatingIfNeeded: hash) & (size - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = Int32(index)
        }
        self.slots = slots
        self.arena = arena
        self.starts = starts
    }

    /// The position of `name`; nil when absent (or when the string has no contiguous UTF-8 form).
    func index(of name: String) -> Int? {
        let found: Int?? = name.utf8.withContiguousStorageIfAvailable { index(ofUTF8: UnsafeRawBufferPointer($0)) }
        return found ?? nil
    }

    /// The position of the name with these UTF-8 bytes; nil when absent.
    func index(ofUTF8 bytes: UnsafeRawBufferPointer) -> Int? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: Self.hash(bytes)) & mask
        return slots.withUnsafeBufferPointer { slots in
            starts.withUnsafeBufferPointer { starts in
                arena.withUnsafeBytes { arena in
                    while true {
                        let index = Int(slots[slot])
                        if index < 0 { return nil }
                        let start = starts[index]
                        if starts[index + 1] - start == bytes.count
                            && (bytes.isEmpty || memcmp(arena.baseAddress! + start, bytes.baseAddress!, bytes.count) == 0) {
                            return index
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            hash ^= hash >> 29
            offset += 8
        }
        var tail: UInt64 = 0
        for index in offset..<bytes.count { tail |= UInt64(bytes[index]) << (8 * UInt64(index - offset)) }
        hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
        return hash ^ (hash >> 32)
    }
}
