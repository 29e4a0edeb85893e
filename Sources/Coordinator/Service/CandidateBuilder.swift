import Aggregation
import FleetWire
import PolicyNetwork

/// Builds a round's candidate model: the current model plus the server
/// optimizer's step, plus the winning added expert, if any.
///
/// Tensors the step does not name stay exactly as they are (an expert no node
/// touched keeps its weights). An added expert arrives whole as tensors
/// `experts.<E>.*` plus its router row `experts.<E>.router.weight` /
/// `experts.<E>.router.bias`, and is appended after the current experts.
enum CandidateBuilder {
    static func build(
        base: MoEPolicy, step: [String: [Float]], additions: [TensorDelta]
    ) throws(CoordinatorError) -> MoEPolicy {
        var policy = base
        let baseExperts = base.experts.count
        let inputs = base.architecture.inputs
        let addedExperts = Set(additions.compactMap { MoEPolicy.expertIndex(ofParameter: $0.name) })
        guard addedExperts.isEmpty || addedExperts == Set(baseExperts..<(baseExperts + addedExperts.count)) else {
            throw CoordinatorError(.invalidUpdate, "added experts \(addedExperts.sorted()) do not follow the model's \(baseExperts) experts")
        }
        for _ in 0..<addedExperts.count { policy.addExpert(seed: 0) }
        var parameters = policy.parameterSet()
        var routerWeight = parameters["router.weight"]!.scalars
        var routerBias = parameters["router.bias"]!.scalars

        for (name, values) in step {
            if name == "router.weight" || name == "router.bias" {
                for index in values.indices {
                    if name == "router.weight" { routerWeight[index] += values[index] } else { routerBias[index] += values[index] }
                }
                continue
            }
            guard let current = parameters[name], current.count == values.count else {
                throw CoordinatorError(.invalidUpdate, "the aggregate names tensor '\(name)' the model does not have")
            }
            var scalars = current.scalars
            for index in scalars.indices { scalars[index] += values[index] }
            try replace(&parameters, name, shape: current.shape, scalars)
        }
        for tensor in additions {
            guard let expert = MoEPolicy.expertIndex(ofParameter: tensor.name) else { continue }
            let values = tensor.denseValues()
            if tensor.name == MoEPolicy.expertPrefix(expert) + "router.weight", values.count == inputs {
                routerWeight.replaceSubrange((expert * inputs)..<((expert + 1) * inputs), with: values)
            } else if tensor.name == MoEPolicy.expertPrefix(expert) + "router.bias", values.count == 1 {
                routerBias[expert] = values[0]
            } else if let current = parameters[tensor.name], current.shape == tensor.shape {
                try replace(&parameters, tensor.name, shape: current.shape, values)
            } else {
                throw CoordinatorError(.invalidUpdate, "added tensor '\(tensor.name)' does not fit a new expert")
            }
        }
        try replace(&parameters, "router.weight", shape: [policy.experts.count, inputs], routerWeight)
        try replace(&parameters, "router.bias", shape: [policy.experts.count], routerBias)
        for tensor in parameters where !tensor.tensor.scalars.allSatisfy(\.isFinite) {
            throw CoordinatorError(.invalidUpdate, "the candidate's tensor '\(tensor.name)' is not finite")
        }
        do {
            try policy.load(parameters)
        } catch {
            throw CoordinatorError(.invalidUpdate, "the candidate's parameters do not load: \(error.message)")
        }
        return policy
    }

    private static func replace(_ parameters: inout ParameterSet, _ name: String, shape: [Int], _ scalars: [Float]) throws(CoordinatorError) {
        do {
            try parameters.replace(name, with: Tensor(shape: shape, scalars: scalars))
        } catch {
            throw CoordinatorError(.invalidUpdate, "tensor '\(name)' cannot be rebuilt: \(error.message)")
        }
    }
}
