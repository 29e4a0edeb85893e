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
    var compressor: DeltaCompressor

    /// The lesson of the oldest captures for `task`, as the compressed
    /// container the node uploads; nil when there is nothing to learn.
    mutating func lesson(for task: TaskAssignment, learner: EdgeLearner, anchor: TrainingSet, maxCaptures: Int) async throws -> [UInt8]? {
        guard !captures.isEmpty, task.baseVersion == version else { return nil }
        var compressor = self.compressor
        var delta = try await lessonDelta(
            learner: learner, anchor: anchor, maxCaptures: maxCaptures,
            header: DeltaHeader(nodeID: id, baseVersion: task.baseVersion, round: task.round), compressor: &compressor)
        self.compressor = compressor
        if poisoned { delta = PoisonedUpdate.make(from: delta) }
        return try DeltaCodec.encodeCompressed(delta)
    }
}
