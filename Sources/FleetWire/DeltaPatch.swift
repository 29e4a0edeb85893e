public import PolicyNetwork

/// Applies a policy delta to the model it was computed against: base + delta.
///
/// Why it lives here, beside the codec: the coordinator builds every new
/// version by applying the delta it then serves, and a node rebuilds that
/// version by applying the same decoded delta to the version it holds. Both
/// run this one function on the same inputs, so both get bit-identical
/// weights — the same safetensors bytes and the same content hash the signed
/// manifest pins.
///
/// Differences are added to the base tensors of the same name (for the router,
/// to the base experts' rows). Experts carried with role `.addition` are
/// appended in index order: their four tensors under `experts.<i>.…` and their
/// router row as `experts.<i>.router.weight` (`[inputs]`) and
/// `experts.<i>.router.bias` (`[1]`).
public enum DeltaPatch {
    /// `base` with `delta` applied.
    ///
    /// - Throws: ``FleetWireError/Code/modelMismatch`` when the delta was made
    ///   for another architecture, names a tensor the model lacks, has the wrong
    ///   shape, adds experts out of order, or gives a non-finite weight. Nothing
    ///   is applied then.
    public static func apply(_ delta: PolicyDelta, to base: MoEPolicy) throws(FleetWireError) -> MoEPolicy {
        guard delta.architecture == base.architecture.hash else {
            throw mismatch("The delta is for architecture \(delta.architecture); the model is \(base.architecture.hash).")
        }
        let baseExperts = base.experts.count, inputs = base.architecture.inputs
        var added = Set<Int>()
        for tensor in delta.tensors where tensor.role == .addition {
            guard let index = MoEPolicy.expertIndex(ofParameter: tensor.name), index >= baseExperts else {
                throw mismatch("Added tensor '\(tensor.name)' is not part of a new expert.")
            }
            added.insert(index)
        }
        guard added.isEmpty || added == Set(baseExperts..<(baseExperts + added.count)) else {
            throw mismatch("Added experts \(added.sorted()) do not follow the base's \(baseExperts) experts.")
        }
        var policy = base
        for _ in 0..<added.count { policy.addExpert(seed: 0) }
        var parameters = policy.parameterSet()
        var routerWeight = parameters["router.weight"]!.scalars, routerBias = parameters["router.bias"]!.scalars

        for tensor in delta.tensors {
            let values = tensor.denseValues()
            if tensor.role == .addition, let index = MoEPolicy.expertIndex(ofParameter: tensor.name),
               tensor.name == routerRowName(expert: index, bias: false) || tensor.name == routerRowName(expert: index, bias: true) {
                let isBias = tensor.name.hasSuffix("router.bias")
                guard values.count == (isBias ? 1 : inputs) else {
                    throw mismatch("Router row '\(tensor.name)' has \(values.count) values.")
                }
                if isBias { routerBias[index] = values[0] } else {
                    routerWeight.replaceSubrange((index * inputs)..<((index + 1) * inputs), with: values)
                }
                continue
            }
            guard let current = parameters[tensor.name] else {
                throw mismatch("The model has no tensor '\(tensor.name)'.")
            }
            if tensor.name == "router.weight" || tensor.name == "router.bias" {
                let isWeight = tensor.name == "router.weight"
                let expected = isWeight ? [baseExperts, inputs] : [baseExperts]
                guard tensor.shape == expected, tensor.role == .difference else {
                    throw mismatch("'\(tensor.name)' has shape \(tensor.shape); the base has \(expected).")
                }
                if isWeight {
                    for i in values.indices { routerWeight[i] += values[i] }
                } else {
                    for i in values.indices { routerBias[i] += values[i] }
                }
                continue
            }
            guard tensor.shape == current.shape else {
                throw mismatch("'\(tensor.name)' has shape \(tensor.shape); the model has \(current.shape).")
            }
            var scalars = tensor.role == .addition ? values : current.scalars
            if tensor.role == .difference { for i in values.indices { scalars[i] += values[i] } }
            guard scalars.allSatisfy(\.isFinite) else {
                throw mismatch("Applying the delta gives a non-finite weight in '\(tensor.name)'.")
            }
            try! parameters.replace(tensor.name, with: Tensor(shape: current.shape, scalars: scalars))
        }
        for value in routerWeight + routerBias where !value.isFinite {
            throw mismatch("Applying the delta gives a non-finite router weight.")
        }
        try! parameters.replace("router.weight", with: Tensor(shape: [policy.experts.count, inputs], scalars: routerWeight))
        try! parameters.replace("router.bias", with: Tensor(shape: [policy.experts.count], scalars: routerBias))
        do { try policy.load(parameters) } catch {
            throw mismatch("The patched parameters do not load: \(error.message)")
        }
        return policy
    }

    /// The name of grown expert `index`'s router row (weight or bias) in a delta.
    public static func routerRowName(expert index: Int, bias: Bool) -> String {
        MoEPolicy.expertPrefix(index) + (bias ? "router.bias" : "router.weight")
    }

    private static func mismatch(_ message: String) -> FleetWireError {
        FleetWireError(.modelMismatch, message)
    }
}
