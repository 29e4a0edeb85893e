public import DrivingSimulator

/// Two evaluations of the same suite side by side, per family.
///
/// A node reports how much a lesson helped, and benchmarks how much a change
/// moved each family: the per-family difference, in collision-free percentage
/// points. (The gate decides episode by episode, with ``PairedFamilyTest``.)
public struct SuiteComparison: Sendable, Equatable {
    /// One family's score before and after.
    public struct Row: Sendable, Equatable {
        public var family: String
        public var before: Double
        public var after: Double
        /// after − before, collision-free percentage points.
        public var change: Double { after - before }
    }

    public var rows: [Row]
    public var overallBefore: Double
    public var overallAfter: Double

    /// Compares `after` with `before`; families present in only one report are left out.
    public init(before: EvaluationReport, after: EvaluationReport) {
        let afterByFamily = Dictionary(uniqueKeysWithValues: after.families.map { ($0.family, $0) })
        rows = before.families.compactMap { score in
            afterByFamily[score.family].map {
                Row(family: score.family, before: score.collisionFreePercent, after: $0.collisionFreePercent)
            }
        }
        overallBefore = before.overall.collisionFreePercent
        overallAfter = after.overall.collisionFreePercent
    }

    /// The family that fell the most (nil when none fell).
    public var worstRegression: Row? {
        rows.filter { $0.change < 0 }.min { $0.change < $1.change }
    }

    /// Whether no family fell by more than `tolerance` points.
    public func holds(tolerance: Double) -> Bool {
        rows.allSatisfy { $0.change >= -tolerance }
    }
}
