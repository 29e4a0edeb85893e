/// Dynamic parametric allocation: growing and shrinking the set of experts.
///
/// When the fleet meets a new kind of scene often enough, it gets an expert of
/// its own (fresh, or cloned from the expert that handled it so far and then
/// specialized); an expert nobody routes to any more is removed. Every other
/// parameter stays bit-identical, so deltas and averages of the untouched
/// experts remain valid across the change. The router gains (or loses) one
/// output row; the existing rows are untouched.
extension MoEPolicy {
    /// Appends a freshly initialized expert and returns its index.
    ///
    /// The new router row is small seeded Xavier noise and its bias the mean of
    /// the existing biases, so at first the new expert is neither favored nor
    /// ignored, and the router can learn to send it the scenes it is good at.
    @discardableResult
    public mutating func addExpert(seed: UInt64) -> Int {
        let expert = ExpertMLP(architecture: architecture, seed: seed)
        var routerRow = [Float](repeating: 0, count: architecture.inputs)
        var generator = SeededGenerator(seed: SeededGenerator.mix(seed, 0x5EED))
        let bound = (6 / Float(architecture.inputs + experts.count + 1)).squareRoot()
        for i in routerRow.indices { routerRow[i] = generator.nextUniform(bound: bound) }
        let meanBias = router.bias.scalars.reduce(0, +) / Float(max(1, router.bias.count))
        return appendExpert(expert, routerRow: routerRow, routerBias: meanBias, mask: nil)
    }

    /// Appends a copy of expert `source` whose weights are perturbed by seeded
    /// Gaussian noise of standard deviation `perturbation` times the source
    /// tensor's RMS, and returns its index.
    ///
    /// The router row is copied too, so the clone starts out competing for the
    /// same scenes as its source; the perturbation breaks the tie so that
    /// training can pull them apart. A pruned source passes its mask on.
    @discardableResult
    public mutating func addExpert(
        cloning source: Int, perturbation: Float = 0.01, seed: UInt64
    ) throws(PolicyNetworkError) -> Int {
        try requireExpert(source)
        guard perturbation >= 0, perturbation.isFinite else {
            throw PolicyNetworkError(.invalidArgument, "perturbation must be finite and ≥ 0, got \(perturbation).")
        }
        var generator = SeededGenerator(seed: seed)
        var expert = experts[source]
        func perturb(_ tensor: inout Tensor) {
            let rms = Float((tensor.squaredNorm / Double(max(1, tensor.count))).squareRoot())
            let scale = perturbation * (rms > 0 ? rms : 1)
            for i in 0..<tensor.count { tensor[i] += scale * generator.nextGaussian() }
        }
        perturb(&expert.fc1.weight)
        perturb(&expert.fc1.bias)
        perturb(&expert.fc2.weight)
        perturb(&expert.fc2.bias)
        let inputs = architecture.inputs
        let routerRow = Array(router.weight.scalars[source * inputs..<(source + 1) * inputs])
        let index = appendExpert(expert, routerRow: routerRow, routerBias: router.bias[source], mask: masks[source])
        applyMasks(expert: index)
        return index
    }

    /// Removes expert `index`; experts after it move down by one.
    ///
    /// - Throws: ``PolicyNetworkError/Code/invalidExpert`` when the index is out
    ///   of range or it is one of the last `topK` experts (the router must still
    ///   be able to choose k distinct experts).
    public mutating func removeExpert(at index: Int) throws(PolicyNetworkError) {
        try requireExpert(index)
        guard experts.count > architecture.topK else {
            throw PolicyNetworkError(
                .invalidExpert, "Cannot remove an expert: top-\(architecture.topK) routing needs at least \(architecture.topK) experts.",
                context: ["experts": "\(experts.count)"])
        }
        let inputs = architecture.inputs
        router.weight.scalars.removeSubrange(index * inputs..<(index + 1) * inputs)
        router.bias.scalars.remove(at: index)
        router = try! Linear(
            weight: Tensor(shape: [experts.count - 1, inputs], scalars: router.weight.scalars),
            bias: Tensor(shape: [experts.count - 1], scalars: router.bias.scalars))
        experts.remove(at: index)
        expertIsTrainable.remove(at: index)
        masks.remove(at: index)
        setArchitectureExperts(experts.count)
    }

    private mutating func appendExpert(_ expert: ExpertMLP, routerRow: [Float], routerBias: Float, mask: ExpertMask?) -> Int {
        let count = experts.count + 1
        router = try! Linear(
            weight: Tensor(shape: [count, architecture.inputs], scalars: router.weight.scalars + routerRow),
            bias: Tensor(shape: [count], scalars: router.bias.scalars + [routerBias]))
        experts.append(expert)
        expertIsTrainable.append(true)
        masks.append(mask)
        setArchitectureExperts(count)
        return count - 1
    }
}
