/// Checkpoints: a policy as a safetensors file with its architecture in `__metadata__`.
///
/// Tensor names are the ``MoEPolicy/parameterNames``; the metadata carries
/// ``PolicyArchitecture/metadata`` (`fleet.inputs`, `fleet.experts`, …,
/// `fleet.architecture`, `fleet.architecture_hash`), so a file alone is enough
/// to rebuild the policy, in Swift or in PyTorch. Training state (frozen flags,
/// optimizer moments) is not part of a checkpoint; pruning masks are implied
/// by the zeros and are not re-imposed on load.
extension MoEPolicy {
    /// The policy as a safetensors file image; `extraMetadata` is merged into `__metadata__`.
    public func checkpoint(extraMetadata: [String: String] = [:]) -> [UInt8] {
        Safetensors.encode(parameterSet(), metadata: architecture.metadata.merging(extraMetadata) { current, _ in current })
    }

    /// A policy from a safetensors file image written by ``checkpoint(extraMetadata:)`` (or PyTorch, with the same names and metadata).
    public init(checkpoint bytes: [UInt8], limits: Safetensors.Limits = Safetensors.Limits()) throws(SafetensorsError) {
        try self.init(contents: Safetensors.decode(bytes, limits: limits))
    }

    /// Writes the checkpoint to `path` atomically.
    public func save(to path: String, extraMetadata: [String: String] = [:]) throws(SafetensorsError) {
        try Safetensors.write(
            parameterSet(), metadata: architecture.metadata.merging(extraMetadata) { current, _ in current }, to: path)
    }

    /// Reads a checkpoint from `path`.
    public init(contentsOf path: String, limits: Safetensors.Limits = Safetensors.Limits()) throws(SafetensorsError) {
        try self.init(contents: Safetensors.read(from: path, limits: limits))
    }

    init(contents: Safetensors.Contents) throws(SafetensorsError) {
        do {
            let architecture = try PolicyArchitecture(metadata: contents.metadata)
            try self.init(architecture: architecture, parameters: contents.parameters)
        } catch {
            throw SafetensorsError(.invalidModel, "The file is not a policy checkpoint: \(error)", context: ["cause": "\(error.code)"])
        }
    }
}
