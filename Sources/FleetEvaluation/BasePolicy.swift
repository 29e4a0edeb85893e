public import DrivingSimulator
public import Foundation
public import PolicyNetwork

/// The fleet's starting model: where its checkpoint lives and how to load it.
///
/// The base policy is trained from the teacher by behaviour cloning and DAgger
/// on ordinary driving (see `BasePolicyTrainer` in EdgeLearning and
/// `Simulator/models/base-policy.json` for how it was made). It is committed
/// beside the simulator content so tests, benchmarks and a fresh fleet all
/// start from the same weights without training first.
public enum BasePolicy {
    /// The checkpoint's file name in `Simulator/models/`.
    public static let fileName = "base-policy.safetensors"
    /// The note describing how it was made.
    public static let manifestName = "base-policy.json"

    /// `Simulator/models/` below the content root.
    public static func directory(in content: SimulatorContent) -> URL {
        content.root.appendingPathComponent("models")
    }

    /// The checkpoint's location.
    public static func url(in content: SimulatorContent) -> URL {
        directory(in: content).appendingPathComponent(fileName)
    }

    /// Loads the committed base policy.
    ///
    /// - Throws: ``EvaluationError/Code/missingCheckpoint`` when the file is
    ///   absent or not a checkpoint, ``EvaluationError/Code/incompatiblePolicy``
    ///   when it cannot drive.
    public static func load(from content: SimulatorContent) throws(EvaluationError) -> MoEPolicy {
        try load(at: url(in: content).path)
    }

    /// Loads a policy checkpoint at `path` to start from instead of the committed one.
    ///
    /// - Throws: as ``load(from:)``.
    public static func load(at path: String) throws(EvaluationError) -> MoEPolicy {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EvaluationError(
                .missingCheckpoint,
                "No policy checkpoint at \(path); train a base policy with `swift run -c release edge-learning-benchmark train-base`.",
                context: ["path": path])
        }
        let policy: MoEPolicy
        do { policy = try MoEPolicy(contentsOf: path) } catch {
            throw EvaluationError(.missingCheckpoint, "The policy checkpoint at \(path) is unreadable: \(error)", context: ["path": path])
        }
        try policy.architecture.validateForDriving()
        return policy
    }
}
