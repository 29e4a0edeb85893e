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

    /// A layout from names and shapes; an expert's tensors are named `experts.<i>.…`.
    public init(architecture: String, tensors: [(name: String, shape: [Int])]) {
        self.architecture = architecture
        entries = tensors.map { Entry(name: $0.name, shape: $0.shape, expert: MoEPolicy.expertIndex(ofParameter: $0.name)) }
        expertCount = (entries.compactMap(\.expert).max() ?? -1) + 1
        indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
        names = NameTable(entries.map(\.name))
    }

    /// The layout of `policy`.
    public init(policy: MoEPolicy) {
        let parameters = policy.parameterSet()
        self.init(
            architecture: policy.architecture.hash,
            tensors: parameters.names.map { ($0, parameters.shape(of: $0) ?? []) }
        )
    }

    /// The entry of that name, if the model has it.
    public subscript(name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The position of that name in ``entries``, if the model has it.
    public func index(of name: String) -> Int? {
        names.index(of: name) ?? indexByName[name]
    }

    /// Total number of parameters.
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.elementCount } }
}

/// Positions of a layout's tensor names, looked up by their UTF-8 bytes.
///
/// Every update names each tensor it carries, and the aggregator looks every
/// name up; a `Dictionary<String, Int>` hashes with SipHash (built to resist
/// chosen keys, and slow for it). Here a name is hashed with FNV-1a into an
/// open-addressed table twice the size of the layout, and the slot's name
/// compared byte for byte — a name an attacker chose can only cost a few more
/// probes in a table of a few dozen names.
struct NameTable: Sendable, Equatable {
    private let slots: [Int32]
    private let utf8: [[UInt8]]

    init(_ names: [String]) {
        var size = 8
        while size < 2 * names.count { size *= 2 }
        var slots = [Int32](repeating: -1, count: size)
        utf8 = names.map { Array($0.utf8) }
        for (index, bytes) in utf8.enumerated() {
            var slot = Int(Self.hash(bytes) & UInt64(size - 1))
            while slots[slot] >= 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = Int32(index)
        }
        self.slots = slots
    }

    /// The position of `name`; nil when absent (or when the string has no contiguous UTF-8 form).
    func index(of name: String) -> Int? {
        let found: Int?? = name.utf8.withContiguousStorageIfAvailable { bytes in
            let mask = slots.count - 1
            var slot = Int(Self.hash(bytes) & UInt64(mask))
            while true {
                let index = Int(slots[slot])
                if index < 0 { return nil }
                let matches = utf8[index].withUnsafeBufferPointer { candidate in
                    candidate.count == bytes.count
                        && (bytes.isEmpty || memcmp(candidate.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
                }
                if matches { return index }
                slot = (slot + 1) & mask
            }
        }
        return found ?? nil
    }

    private static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
