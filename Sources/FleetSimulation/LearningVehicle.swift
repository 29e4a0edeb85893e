import Foundation
import DrivingSimulator
import EdgeLearning
import EdgeNode
import FleetEvaluation
import FleetWire
import PolicyNetwork

/// A car that drives with a model, keeps what its triggers capture and
/// learns lessons from the captures: what a fleet node and a local-only
/// twin (a node that never shares) have in common.
protocol LearningVehicle {
    var id: String { get }
    var vehicle: SimulatedVehicle { get set }
    /// The model it drives with.
    var policy: MoEPolicy { get }
    /// Captures not yet learned from, oldest first.
    var captures: [Capture] { get set }
    /// Lessons taken so far (sent or withheld), per family.
    var lessonsByFamily: [String: Int] { get set }
}

/// What one round's drive gave.
struct Drive: Sendable {
    var capturesByFamily: [String: Int] = [:]
    /// Every capture the triage kept, in the order taken.
    var captured: [Capture] = []
    var crashes = 0
    /// Decisions per expert (the router's top choice).
    var expertUse: [Int] = []
}

extension LearningVehicle {
    /// Drives `episodes` episodes with the current model and keeps what the
    /// triggers captured, as ``CaptureTriage`` decides, up to `keep` waiting
    /// captures (a node's spool is bounded; a fleet of thousands would
    /// otherwise hold every scene it met).
    mutating func drive(episodes: Int, keep: Int) throws -> Drive {
        var drive = Drive()
        for _ in 0..<episodes {
            var driver = try PolicyDriver(policy: policy, name: id)
            let result = try vehicle.driveEpisode(with: &driver)
            if result.crashed { drive.crashes += 1 }
            drive.expertUse.add(driver.topExpertCounts)
            guard let capture = CaptureTriage.scene(of: result.captures) else { continue }
            drive.capturesByFamily[VariationSynthesizer.family(of: capture), default: 0] += 1
            drive.captured.append(capture)
            CaptureTriage.spool(capture, into: &captures, keep: keep)
        }
        return drive
    }

    /// The lesson of the next `maxCaptures` captures (``lessonCaptures(maxCaptures:)``), as the delta it
    /// would send against the model it drives with (compressed by `compressor`);
    /// with a `check`, the longest step of it that passes the node's own
    /// regression check, or nil when none does (the lesson is withheld).
    func lessonDelta(
        learner: EdgeLearner, anchor: TrainingSet, check: LessonCheck?, maxCaptures: Int, header: DeltaHeader,
        compressor: inout DeltaCompressor
    ) async throws -> PolicyDelta? {
        let id = self.id
        let trace = ProcessInfo.processInfo.environment["FLEET_SIM_TRACE"] != nil
        let adaptation = try await learner.adapt(captures: lessonCaptures(maxCaptures: maxCaptures), base: policy, anchor: anchor) { line in
            if trace { FileHandle.standardError.write(Data("\(id): \(line)\n".utf8)) }
        }
        guard let check else { return try learner.delta(for: adaptation, base: policy, header: header, compressor: &compressor) }
        let base = policy
        let leading = adaptation.trainedExperts.count > 1 && adaptation.grownExpert == nil ? adaptation.trainedExperts.first : nil
        let outcome = try await check.review(local: adaptation.local, base: base, leading: leading, compressor: &compressor) { model, compressor in
            var shortened = adaptation
            shortened.local = model
            return try learner.delta(for: shortened, base: base, header: header, compressor: &compressor)
        }
        if trace {
            let verdict = outcome.trial.map { "sends \($0)" } ?? "withholds the lesson: \(outcome.reasons.joined(separator: "; "))"
            FileHandle.standardError.write(Data("\(id): check \(verdict)\n".utf8))
        }
        return outcome.delta
    }

    /// Where in `captures` the next lesson's are (see ``CaptureTriage/lessonIndices(families:lessonsByFamily:maxCaptures:)``).
    func lessonIndices(maxCaptures: Int) -> [Int] {
        CaptureTriage.lessonIndices(
            families: captures.map(VariationSynthesizer.family(of:)), lessonsByFamily: lessonsByFamily, maxCaptures: maxCaptures)
    }

    /// The captures the next lesson learns from (see ``lessonIndices(maxCaptures:)``).
    func lessonCaptures(maxCaptures: Int) -> [Capture] {
        lessonIndices(maxCaptures: maxCaptures).map { captures[$0] }
    }

    /// The captures a lesson used are done with (sent or withheld); the rest wait.
    mutating func lessonDelivered(maxCaptures: Int) {
        for index in lessonIndices(maxCaptures: maxCaptures).reversed() {
            lessonsByFamily[VariationSynthesizer.family(of: captures[index]), default: 0] += 1
            captures.remove(at: index)
        }
    }
}
