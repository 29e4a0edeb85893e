public import FleetWire
public import PolicyNetwork

/// Who sends a delta and against what: the header fields of the container.
public struct DeltaHeader: Sendable, Equatable {
    /// The sender, as named in its certificate.
    public var nodeID: String
    /// The model version the node adapted.
    public var baseVersion: UInt64
    /// The round it answers (0 when asynchronous).
    public var round: UInt64

    public init(nodeID: String, baseVersion: UInt64, round: UInt64 = 0) {
        self.nodeID = nodeID
        self.baseVersion = baseVersion
        self.round = round
    }
}

/// One tensor's dense change: `local − base`, or a whole new tensor.
public struct DenseChange: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public var role: TensorDelta.Role
}

/// Builds the policy delta a node sends: local − base for the tensors it touched.
///
/// Only tensors that differ from the base are sent — after modular adaptation
/// that is the trained experts (and the router if it trained); everything else
/// is bit-identical and costs nothing. Each change goes through the node's
/// ``DeltaCompressor`` (top-k, int8 per-row scales, error feedback), and the
/// container carries the routing counts that weight the fleet's per-expert
/// average and the metadata of where the lesson came from.
///
/// An expert the node grew (index ≥ the base's expert count) has no base to
/// differ from: its four tensors travel whole with role `.addition` under its
/// own names (`experts.<i>.fc1.weight`, …), and its router row as
/// `experts.<i>.router.weight` (`[inputs]`) and `experts.<i>.router.bias`
/// (`[1]`), so everything about the new expert sits under its prefix. The base
/// rows of the router travel as an ordinary difference of the base's shape.
public enum DeltaBuilder {
    /// The name of grown expert `index`'s router row (weight or bias).
    public static func routerRowName(expert index: Int, bias: Bool) -> String {
        MoEPolicy.expertPrefix(index) + (bias ? "router.bias" : "router.weight")
    }

    /// The dense changes from `base` to `local`, touched tensors only, in canonical order.
    ///
    /// - Throws: ``LearningError/Code/deltaMismatch`` when `local` is not `base`
    ///   plus appended experts (a different shape, or experts removed).
    public static func changes(base: MoEPolicy, local: MoEPolicy) throws(LearningError) -> [DenseChange] {
        let baseArchitecture = base.architecture, localArchitecture = local.architecture
        guard baseArchitecture.inputs == localArchitecture.inputs, baseArchitecture.hidden == localArchitecture.hidden,
              baseArchitecture.actions == localArchitecture.actions, baseArchitecture.topK == localArchitecture.topK,
              localArchitecture.experts >= baseArchitecture.experts
        else {
            throw LearningError(
                .deltaMismatch, "The local policy (\(localArchitecture)) is not the base (\(baseArchitecture)) with experts added.")
        }
        let baseSet = base.parameterSet(), localSet = local.parameterSet()
        let experts = baseArchitecture.experts, inputs = baseArchitecture.inputs
        var changes: [DenseChange] = []
        for name in base.parameterNames {
            let before = baseSet[name]!
            var after = localSet[name]!.scalars
            if after.count != before.count { after = Array(after.prefix(before.count)) }  // router rows of the base experts
            guard after != before.scalars else { continue }
            var difference = after
            for i in difference.indices { difference[i] -= before.scalars[i] }
            changes.append(DenseChange(name: name, shape: before.shape, values: difference, role: .difference))
        }
        if local.experts.count > experts {
            let routerWeight = localSet["router.weight"]!.scalars, routerBias = localSet["router.bias"]!.scalars
            for index in experts..<local.experts.count {
                let prefix = MoEPolicy.expertPrefix(index)
                for suffix in ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] {
                    let tensor = localSet[prefix + suffix]!
                    changes.append(DenseChange(name: prefix + suffix, shape: tensor.shape, values: tensor.scalars, role: .addition))
                }
                changes.append(DenseChange(
                    name: routerRowName(expert: index, bias: false), shape: [inputs],
                    values: Array(routerWeight[(index * inputs)..<((index + 1) * inputs)]), role: .addition))
                changes.append(DenseChange(
                    name: routerRowName(expert: index, bias: true), shape: [1], values: [routerBias[index]], role: .addition))
            }
        }
        return changes
    }

    /// The delta container for `local − base`, compressed by `compressor`.
    ///
    /// - Parameters:
    ///   - routingCounts: samples routed to each of the local policy's experts while adapting.
    ///   - compressor: the node's compressor; its residuals carry what this delta leaves out into the next one.
    public static func build(
        base: MoEPolicy, local: MoEPolicy, header: DeltaHeader, routingCounts: [Int], metadata: DeltaMetadata,
        compressor: inout DeltaCompressor
    ) throws(LearningError) -> PolicyDelta {
        let tensors = try changes(base: base, local: local).map {
            compressor.compress(name: $0.name, shape: $0.shape, values: $0.values, role: $0.role)
        }
        return PolicyDelta(
            architecture: base.architecture.hash, baseVersion: header.baseVersion, round: header.round, nodeID: header.nodeID,
            tensors: tensors, routingCounts: routingCounts.map { UInt64(max(0, $0)) }, metadata: metadata)
    }
}
