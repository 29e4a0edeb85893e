public import DrivingSimulator
public import PolicyNetwork

/// Labelled states packed for training: observations row-major, one teacher
/// action per row, and a difficulty per row for the curriculum.
///
/// Flat arrays rather than an array of samples, so a batch is gathered with
/// one copy per row into a reused tensor and training allocates nothing per step.
public struct TrainingSet: Sendable, Equatable {
    /// Features per row (`Observation.size`).
    public let width: Int
    /// `count × width` floats.
    public private(set) var observations: [Float] = []
    /// The teacher's action (a `MetaAction` raw value) per row.
    public private(set) var labels: [Int] = []
    /// 0 (easy) … 1 (hard) per row; the curriculum trains easy rows first.
    public private(set) var difficulty: [Float] = []
    /// The logits a reference policy gave each row (`MetaAction.count` per row), for distillation; nil when not set.
    public private(set) var targetLogits: [Float]?
    /// How many times per epoch each row is drawn (≥ 1): corrections weigh more than agreements.
    public private(set) var repeats: [Int] = []

    /// An empty set of rows `width` wide.
    public init(width: Int = Observation.size) {
        self.width = width
    }

    public var count: Int { labels.count }
    public var isEmpty: Bool { labels.isEmpty }

    /// Appends DAgger samples (the teacher's label is the target, whatever was executed).
    public mutating func append(_ samples: [LabelledSample], difficulty value: Float = 0) {
        for sample in samples where sample.observation.count == width {
            observations += sample.observation
            labels.append(sample.label.rawValue)
            difficulty.append(value)
            repeats.append(1)
            targetLogits = nil
        }
    }

    /// Appends every row of another set.
    public mutating func append(contentsOf other: TrainingSet) {
        precondition(other.width == width, "training sets of different widths")
        targetLogits = (targetLogits != nil || isEmpty) && other.targetLogits != nil ? (targetLogits ?? []) + other.targetLogits! : nil
        observations += other.observations
        labels += other.labels
        difficulty += other.difficulty
        repeats += other.repeats
    }

    /// The same rows labelled with `policy`'s own choice (argmax of its logits), its logits kept as distillation targets.
    ///
    /// A node replays ordinary driving labelled by the *base* model it started
    /// from: "keep doing what you did here" (Li & Hoiem 2017, learning without
    /// forgetting), so the lesson changes behaviour only where the teacher
    /// asked for it.
    public func relabelled(by policy: MoEPolicy) throws(LearningError) -> TrainingSet {
        var copy = self
        let outputs = try PolicyFitting.outputs(policy, data: self)
        copy.labels = outputs.actions
        copy.targetLogits = outputs.logits
        return copy
    }

    /// Draws rows `from ..< count` whose teacher label differs from `policy`'s
    /// own action `factor` times per epoch.
    ///
    /// Most visited states are easy (keep lane, keep speed) and the policy
    /// already agrees with the teacher there; the few states where it does not
    /// — the late brake, the missed lane change — are the lesson. Weighting
    /// them is importance weighting towards the corrections DAgger exists to find.
    public mutating func emphasizeCorrections(of policy: MoEPolicy, from start: Int = 0, factor: Int) throws(LearningError) {
        guard factor > 1, start < count else { return }
        var tail = TrainingSet(width: width)
        tail.observations = Array(observations[(start * width)...])
        tail.labels = Array(labels[start...])
        tail.difficulty = Array(difficulty[start...])
        tail.repeats = Array(repeats[start...])
        let predicted = try PolicyFitting.predictions(policy, data: tail)
        for (offset, action) in predicted.enumerated() where action != labels[start + offset] {
            repeats[start + offset] = factor
        }
    }

    /// Draws the `share` of rows whose reference logits are closest to a tie `factor` times per epoch.
    ///
    /// Ordinary driving is mostly easy: keep the lane, keep the speed, with a
    /// wide margin between the best action and the next. What a lesson
    /// breaks elsewhere are the close calls — the state where braking now or
    /// a step later decides a near miss — because a small change to a shared
    /// expert flips an action only where its margin
    /// `m = z₍₁₎ − z₍₂₎` (best minus second-best logit) is small. Replaying
    /// those states more often spends the anchor's budget where forgetting
    /// would show. Needs ``targetLogits`` (see ``relabelled(by:)``); without
    /// them, nothing changes.
    public mutating func emphasizeCloseCalls(share: Double, factor: Int) {
        guard factor > 1, share > 0, let logits = targetLogits, !isEmpty else { return }
        let actions = logits.count / count
        guard actions >= 2 else { return }
        var margins = [Float](repeating: 0, count: count)
        for row in 0..<count {
            var best = -Float.infinity, second = -Float.infinity
            for value in logits[(row * actions)..<((row + 1) * actions)] {
                if value > best { second = best; best = value } else if value > second { second = value }
            }
            margins[row] = best - second
        }
        let chosen = min(count, max(1, Int((share * Double(count)).rounded(.up))))
        let order = margins.indices.sorted { (margins[$0], $0) < (margins[$1], $1) }
        for row in order.prefix(chosen) { repeats[row] = max(repeats[row], factor) }
    }

    /// How often each action is the label, indexed by raw value.
    public var labelHistogram: [Int] {
        var counts = [Int](repeating: 0, count: MetaAction.count)
        for label in labels where label < counts.count { counts[label] += 1 }
        return counts
    }
}
