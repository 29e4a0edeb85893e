public import FleetWire
public import PolicyNetwork

/// Applies a policy delta to the model it was computed against: base + delta.
///
/// The inverse of ``DeltaBuilder``: differences are added to the base tensors
/// of the same name (the router's base rows included), experts carried with
/// role `.addition` are appended in index order with their router rows. A
/// node uses it to check what its compressed delta does before sending it; the
/// fleet simulation uses it to apply one node's lesson alone.
public enum DeltaApplier {
    /// `base` with `delta` applied.
    ///
    /// - Throws: ``LearningError/Code/deltaMismatch`` when the delta was made for
    ///   another architecture, names a tensor the model lacks, has the wrong
    ///   shape, or adds experts out of order. Nothing is applied then.
    public static func apply(_ delta: PolicyDelta, to base: MoEPolicy) throws(LearningError) -> MoEPolicy {
        guard delta.architecture == base.architecture.hash else {
            throw LearningError(
                .deltaMismatch, "The delta is for architecture \(delta.architecture); the model is \(base.architecture.hash).",
                context: ["delta": delta.architecture, "model": base.architecture.hash])
        }
        let baseExperts = base.experts.count, inputs = base.architecture.inputs
        var added = Set<Int>()
        for tensor in delta.tensors where tensor.role == .addition {
            guard let index = MoEPolicy.expertIndex(ofParameter: tensor.name), index >= baseExperts else {
                throw LearningError(.deltaMismatch, "Added tensor '\(tensor.name)' is not part of a new expert.", context: ["name": tensor.name])
            }
            added.insert(index)
        }
        guard added.isEmpty || added == Set(baseExperts..<(baseExperts + added.count)) else {
            throw LearningError(.deltaMismatch, "Added experts \(added.sorted()) do not follow the base's \(baseExperts) experts.")
        }
        var policy = base
        for _ in 0..<added.count { policy.addExpert(seed: 0) }
        var parameters = policy.parameterSet()
        var routerWeight = parameters["router.weight"]!.scalars, routerBias = parameters["router.bias"]!.scalars

        for tensor in delta.tensors {
            let values = tensor.denseValues()
            if tensor.role == .addition, let index = MoEPolicy.expertIndex(ofParameter: tensor.name),
               tensor.name == DeltaBuilder.routerRowName(expert: index, bias: false) || tensor.name == DeltaBuilder.routerRowName(expert: index, bias: true) {
                let isBias = tensor.name.hasSuffix("router.bias")
                guard values.count == (isBias ? 1 : inputs) else {
                    throw LearningError(.deltaMismatch, "Router row '\(tensor.name)' has \(values.count) values.", context: ["name": tensor.name])
                }
                if isBias { routerBias[index] = values[0] } else {
                    routerWeight.replaceSubrange((index * inputs)..<((index + 1) * inputs), with: values)
                }
                continue
            }
            guard let current = parameters[tensor.name] else {
                throw LearningError(.deltaMismatch, "The model has no tensor '\(tensor.name)'.", context: ["name": tensor.name])
            }
            if tensor.name == "router.weight" || tensor.name == "router.bias" {
                var target = tensor.name == "router.weight" ? routerWeight : routerBias
                let expected = tensor.name == "router.weight" ? [baseExperts, inputs] : [baseExperts]
                guard tensor.shape == expected, tensor.role == .difference else {
                    throw LearningError(.deltaMismatch, "'\(tensor.name)' has shape \(tensor.shape); the base has \(expected).", context: ["name": tensor.name])
                }
                for i in values.indices { target[i] += values[i] }
                if tensor.name == "router.weight" { routerWeight = target } else { routerBias = target }
                continue
            }
            guard tensor.shape == current.shape else {
                throw LearningError(.deltaMismatch, "'\(tensor.name)' has shape \(tensor.shape); the model has \(current.shape).", context: ["name": tensor.name])
            }
            var scalars = tensor.role == .addition ? values : current.scalars
            if tensor.role == .difference { for i in values.indices { scalars[i] += values[i] } }
            try! parameters.replace(tensor.name, with: Tensor(shape: current.shape, scalars: scalars))
        }
        try! parameters.replace("router.weight", with: Tensor(shape: [policy.experts.count, inputs], scalars: routerWeight))
        try! parameters.replace("router.bias", with: Tensor(shape: [policy.experts.count], scalars: routerBias))
        for value in routerWeight + routerBias where !value.isFinite {
            throw LearningError(.deltaMismatch, "Applying the delta gives a non-finite router weight.")
        }
        do { try policy.load(parameters) } catch {
            throw LearningError(.deltaMismatch, "The patched parameters do not load: \(error.message)")
        }
        return policy
    }
}
