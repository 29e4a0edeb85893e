/// Preallocated buffers for batched forward and backward passes of a ``MoEPolicy``.
///
/// A training step touches about a dozen intermediate arrays (router
/// probabilities, the top-k choice, each expert's gathered inputs, hidden
/// activations and outputs, and their gradients). Allocating them per step
/// would cost more than the arithmetic at the sizes a policy has, so they live
/// here and are reused; they grow only when the batch (or the architecture)
/// grows. Not thread-safe: one workspace per training loop.
///
/// Rows are grouped by expert: the samples routed to expert e occupy the rows
/// `expertOffset[e] ..< expertOffset[e+1]` of every per-assignment buffer, so
/// each expert runs as one contiguous matrix product.
public final class MoEWorkspace {
    private(set) var inputs = 0, hidden = 0, actions = 0, experts = 0, topK = 0
    /// Rows the per-sample (router) buffers hold.
    private(set) var routingCapacity = 0
    /// Rows the per-assignment (expert) buffers hold, in samples.
    private(set) var expertCapacity = 0
    /// Rows of the batch last run through this workspace.
    private(set) var batch = 0

    // Per sample.
    private(set) var logits = Buffer<Float>()  // [B, E]
    private(set) var probabilities = Buffer<Float>()  // [B, E]
    private(set) var chosenExperts = Buffer<Int32>()  // [B, k]
    private(set) var gates = Buffer<Float>()  // [B, k]
    private(set) var gateNormalizer = Buffer<Float>()  // [B]  Σ_{top-k} p
    private(set) var output = Buffer<Float>()  // [B, A]
    private(set) var gradOutput = Buffer<Float>()  // [B, A]
    private(set) var gradGates = Buffer<Float>()  // [B, k]
    private(set) var gradProbabilities = Buffer<Float>()  // [B, E]
    private(set) var gradLogits = Buffer<Float>()  // [B, E]
    // Per expert.
    private(set) var expertOffset = Buffer<Int>()  // [E + 1]
    private(set) var cursor = Buffer<Int>()  // [E]
    // Per assignment row (B·k rows grouped by expert).
    private(set) var rowSample = Buffer<Int32>()
    private(set) var rowSlot = Buffer<Int32>()  // sample·k + slot
    private(set) var rowGate = Buffer<Float>()
    private(set) var gathered = Buffer<Float>()  // [B·k, inputs]
    private(set) var preActivation = Buffer<Float>()  // [B·k, hidden]
    private(set) var activation = Buffer<Float>()  // [B·k, hidden]
    private(set) var activationDerivative = Buffer<Float>()  // [B·k, hidden]  f'(pre-activation), trainable experts only
    private(set) var expertOutput = Buffer<Float>()  // [B·k, A]
    private(set) var gradExpertOutput = Buffer<Float>()  // [B·k, A]
    private(set) var gradHidden = Buffer<Float>()  // [B·k, hidden]

    /// An empty workspace; it sizes itself on first use.
    public init() {}

    /// Makes room for `batch` rows of `architecture`, router and experts; allocates
    /// only when something is larger than before or the shape changed.
    func prepare(for architecture: PolicyArchitecture, batch: Int) {
        prepareRouting(for: architecture, batch: batch)
        guard batch > expertCapacity else { return }
        expertCapacity = max(batch, 1)
        let rows = expertCapacity * topK
        rowSample.resize(rows)
        rowSlot.resize(rows)
        rowGate.resize(rows)
        gathered.resize(rows * inputs)
        preActivation.resize(rows * hidden)
        activation.resize(rows * hidden)
        activationDerivative.resize(rows * hidden)
        expertOutput.resize(rows * actions)
        gradExpertOutput.resize(rows * actions)
        gradHidden.resize(rows * hidden)
    }

    /// Makes room for routing `batch` rows only (router, top-k, counts), so a
    /// pass that needs no expert allocates no expert buffers.
    func prepareRouting(for architecture: PolicyArchitecture, batch: Int) {
        let shapeChanged = architecture.inputs != inputs || architecture.hidden != hidden
            || architecture.actions != actions || architecture.experts != experts || architecture.topK != topK
        self.batch = batch
        if shapeChanged {
            inputs = architecture.inputs
            hidden = architecture.hidden
            actions = architecture.actions
            experts = architecture.experts
            topK = architecture.topK
            routingCapacity = 0
            expertCapacity = 0
        }
        guard batch > routingCapacity else { return }
        routingCapacity = max(batch, 1)
        let b = routingCapacity, e = experts, k = topK
        logits.resize(b * e)
        probabilities.resize(b * e)
        chosenExperts.resize(b * k)
        gates.resize(b * k)
        gateNormalizer.resize(b)
        output.resize(b * actions)
        gradOutput.resize(b * actions)
        gradGates.resize(b * k)
        gradProbabilities.resize(b * e)
        gradLogits.resize(b * e)
        expertOffset.resize(e + 1)
        cursor.resize(e)
    }

    /// A copy of the last batch's output logits, `[batch, actions]`.
    public func outputTensor() -> Tensor {
        try! Tensor(shape: [batch, actions], scalars: Array(UnsafeBufferPointer(start: output.pointer, count: batch * actions)))
    }
}

/// A heap array of `T` owned by its object; freed in `deinit`.
///
/// The pointer never leaves the module; it exists so the hot loops index raw
/// memory without the uniqueness and bounds checks of `Array`.
final class Buffer<T: BitwiseCopyable> {
    private(set) var pointer: UnsafeMutablePointer<T>
    private(set) var count: Int

    init(count: Int = 0) {
        self.count = count
        pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
    }

    /// Replaces the storage with `count` uninitialized elements (contents are not kept).
    func resize(_ newCount: Int) {
        guard newCount != count else { return }
        pointer.deallocate()
        pointer = UnsafeMutablePointer<T>.allocate(capacity: max(newCount, 1))
        count = newCount
    }

    deinit {
        pointer.deallocate()
    }
}
