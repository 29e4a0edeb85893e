/// The bounds a delta decoder enforces before it allocates anything.
///
/// A coordinator serves thousands of nodes it does not control; every size a
/// peer can declare is capped here, so a hostile or broken upload costs at
/// most these bytes. The defaults fit a policy of a few million parameters.
public struct DeltaLimits: Sendable, Equatable {
    /// Largest body accepted before decompression.
    public var maxCompressedBytes: Int
    /// Largest container accepted after decompression.
    public var maxDecompressedBytes: Int
    /// Most tensor blocks in one delta.
    public var maxTensors: Int
    /// Most elements in one tensor.
    public var maxElementsPerTensor: Int
    /// Most elements over all tensors.
    public var maxTotalElements: Int
    /// Longest tensor name, architecture hash or node id, in bytes.
    public var maxNameBytes: Int
    /// Largest metadata JSON, in bytes.
    public var maxMetadataBytes: Int
    /// Most routing counts (experts).
    public var maxExperts: Int

    public init(
        maxCompressedBytes: Int = 16 << 20,
        maxDecompressedBytes: Int = 64 << 20,
        maxTensors: Int = 4_096,
        maxElementsPerTensor: Int = 4 << 20,
        maxTotalElements: Int = 16 << 20,
        maxNameBytes: Int = 256,
        maxMetadataBytes: Int = 64 << 10,
        maxExperts: Int = 1_024
    ) {
        self.maxCompressedBytes = maxCompressedBytes
        self.maxDecompressedBytes = maxDecompressedBytes
        self.maxTensors = maxTensors
        self.maxElementsPerTensor = maxElementsPerTensor
        self.maxTotalElements = maxTotalElements
        self.maxNameBytes = maxNameBytes
        self.maxMetadataBytes = maxMetadataBytes
        self.maxExperts = maxExperts
    }

    public static let `default` = DeltaLimits()
}
