import Aggregation
import Foundation
import DrivingSimulator
import EdgeLearning
import EdgeNode
import FleetEvaluation
import FleetWire
import PolicyNetwork

/// One simulated vehicle of the fleet: it drives in its region with the
/// model it runs, keeps the captures its triggers take, learns from them
/// when the coordinator hands it a task, and installs every version it pulls
/// once the signature checks out — the edge node's steps, taken in lock
/// step so that a seed gives the same run.
struct SimulatedFleetNode: LearningVehicle, Sendable {
    let id: String
    let region: String
    /// Sends poisoned updates (for robustness runs).
    let poisoned: Bool
    let connection: any CoordinatorConnection
    var vehicle: SimulatedVehicle
    /// The verified model it drives with.
    var policy: MoEPolicy
    var version: UInt64
    /// Captures not yet learned from, oldest first.
    var captures: [Capture] = []
    var lessonsByFamily: [String: Int] = [:]
    var compressor: DeltaCompressor

    /// What a node's lesson for a task came to.
    enum Lesson: Sendable {
        /// The compressed container the node uploads.
        case update([UInt8])
        /// The node's own check failed every step: the lesson is dropped, not sent.
        case withheld
    }

    /// The lesson of the next captures (``lessonCaptures(maxCaptures:)``) for `task`; nil when there is nothing to learn.
    mutating func lesson(
        for task: TaskAssignment, learner: EdgeLearner, anchor: TrainingSet, check: LessonCheck?, maxCaptures: Int
    ) async throws -> Lesson? {
        guard !captures.isEmpty, task.baseVersion == version else { return nil }
        var compressor = self.compressor
        // A poisoned node sends whatever it likes: it skips the check.
        let delta = try await lessonDelta(
            learner: learner, anchor: anchor, check: poisoned ? nil : check, maxCaptures: maxCaptures,
            header: DeltaHeader(nodeID: id, baseVersion: task.baseVersion, round: task.round), compressor: &compressor)
        self.compressor = compressor
        guard let delta else {
            lessonDelivered(maxCaptures: maxCaptures)
            return .withheld
        }
        return .update(try DeltaCodec.encodeCompressed(poisoned ? PoisonedUpdate.make(from: delta) : delta))
    }
}
