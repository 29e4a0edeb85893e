import DrivingSimulator
import EdgeLearning

/// Which captures a node keeps for its lessons.
///
/// An episode gives one capture, that of its most severe trigger: the
/// triggers of one scene mostly fire together (TTC, hard braking, then the
/// collision), and four copies of one scene would fill the spool. A full
/// spool still takes a family it does not hold, in place of the oldest
/// capture of the family it holds most: the scene a region meets rarely (ice
/// among the stalled cars of a mountain pass) is the one its cars most need
/// to learn, and first come, first kept, it would never get in.
enum CaptureTriage {
    /// The capture that stands for an episode: its most severe trigger's (the first of equals).
    static func scene(of captures: [Capture]) -> Capture? {
        captures.enumerated().min { (severity($0.element.trigger.kind), $0.offset) < (severity($1.element.trigger.kind), $1.offset) }?.element
    }

    /// Adds `capture` to the waiting `captures` (oldest first), at most `keep` of them.
    static func spool(_ capture: Capture, into captures: inout [Capture], keep: Int) {
        guard captures.count >= keep else { return captures.append(capture) }
        let held = captures.map(VariationSynthesizer.family(of:))
        guard !held.contains(VariationSynthesizer.family(of: capture)) else { return }
        var counts: [String: Int] = [:]
        for family in held { counts[family, default: 0] += 1 }
        // The family held most; among equals, the one whose capture has waited longest.
        guard let most = counts.values.max(), let oldest = held.firstIndex(where: { counts[$0] == most }) else { return }
        captures.remove(at: oldest)
        captures.append(capture)
    }

    /// Where in a spool of captures of `families` (oldest first) the next
    /// lesson's are: those of the families the car has taken fewest lessons
    /// on, oldest first among equals, in spool order. Oldest first alone, a
    /// region's common scenes take every lesson — an alpine car met stalled
    /// cars and braking leads before its first patch of ice, and learned
    /// nothing of ice in ten rounds.
    static func lessonIndices(families: [String], lessonsByFamily: [String: Int], maxCaptures: Int) -> [Int] {
        let learned = families.map { lessonsByFamily[$0, default: 0] }
        let ranked = families.indices.sorted { (learned[$0], $0) < (learned[$1], $1) }
        return ranked.prefix(max(0, maxCaptures)).sorted()
    }

    /// Lower is more severe.
    static func severity(_ kind: TriggerEvent.Kind) -> Int {
        switch kind {
        case .collision: 0
        case .offRoad: 1
        case .gripLimit: 2
        case .timeToCollision: 3
        case .hardBraking: 4
        case .guardrailOverride: 5
        case .teacherDisagreement: 6
        }
    }
}
