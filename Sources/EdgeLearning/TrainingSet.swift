public import DrivingSimulator

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
        }
    }

    /// Appends every row of another set.
    public mutating func append(contentsOf other: TrainingSet) {
        precondition(other.width == width, "training sets of different widths")
        observations += other.observations
        labels += other.labels
        difficulty += other.difficulty
    }

    /// How often each action is the label, indexed by raw value.
    public var labelHistogram: [Int] {
        var counts = [Int](repeating: 0, count: MetaAction.count)
        for label in labels where label < counts.count { counts[label] += 1 }
        return counts
    }
}
