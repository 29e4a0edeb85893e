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
struct SimulatedFleetNode: Sendable {
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

    /// What one round's drive gave.
    struct Drive: Sendable {
        var capturesByFamily: [String: Int] = [:]
        var crashes = 0
        /// Decisions per expert (the router's top choice).
        var expertUse: [Int] = []
    }

    /// Drives `episodes` episodes with the current model and keeps what the
    /// triggers captured, up to `keep` waiting captures (a node's spool is
    /// bounded; a fleet of thousands would otherwise hold every scene it met).
    mutating func drive(episodes: Int, keep: Int) throws -> Drive {
        var drive = Drive()
        for _ in 0..<episodes {
            var driver = try PolicyDriver(policy: policy, name: id)
            let result = try vehicle.driveEpisode(with: &driver)
            if result.crashed { drive.crashes += 1 }
            drive.expertUse.add(driver.topExpertCounts)
            for capture in result.captures {
                drive.capturesByFamily[VariationSynthesizer.family(of: capture), default: 0] += 1
                if captures.count < keep { captures.append(capture) }
            }
        }
        return drive
    }

    /// The lesson of the oldest captures for `task`, as the compressed
    /// container the node uploads; nil when there is nothing to learn.
    mutating func lesson(for task: TaskAssignment, learner: EdgeLearner, anchor: TrainingSet, maxCaptures: Int) async throws -> [UInt8]? {
        guard !captures.isEmpty, task.baseVersion == version else { return nil }
        let used = Array(captures.prefix(maxCaptures))
        let id = self.id
        let trace = ProcessInfo.processInfo.environment["FLEET_SIM_TRACE"] != nil
        let adaptation = try await learner.adapt(captures: used, base: policy, anchor: anchor) { line in
            if trace { FileHandle.standardError.write(Data("\(id): \(line)\n".utf8)) }
        }
        var delta = try learner.delta(
            for: adaptation, base: policy,
            header: DeltaHeader(nodeID: id, baseVersion: task.baseVersion, round: task.round), compressor: &compressor)
        if poisoned { delta = PoisonedUpdate.make(from: delta) }
        return try DeltaCodec.encodeCompressed(delta)
    }

    /// The captures a delivered lesson used are learned; the rest wait.
    mutating func lessonDelivered(maxCaptures: Int) {
        captures.removeFirst(min(maxCaptures, captures.count))
    }
}
