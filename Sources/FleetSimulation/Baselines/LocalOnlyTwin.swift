import DrivingSimulator
import EdgeLearning
import EdgeNode
import FleetWire
import PolicyNetwork

/// A car that learns from its own captures and never shares them or its
/// lessons: the local-only baseline.
///
/// It is the twin of one fleet node — same region, same seed — so it starts
/// on the same roads with the same model and learns its first lesson the
/// same way; it then applies its own delta, compressed as it would have sent
/// it, and drives with its own model from then on, untouched by the rest of
/// the fleet.
struct LocalOnlyTwin: LearningVehicle, Sendable {
    let id: String
    let region: String
    /// Index of the fleet node it mirrors (its lessons are seeded like that node's).
    let mirrors: Int
    var vehicle: SimulatedVehicle
    var policy: MoEPolicy
    var captures: [Capture] = []
    var lessonsByFamily: [String: Int] = [:]
    var compressor: DeltaCompressor
    /// Ordinary driving labelled for `policy`, and its own regression check (both made again when the model changes).
    var anchor: TrainingSet?
    var check: LessonCheck??
    /// Lessons applied so far.
    var lessons = 0

    /// Learns from the next captures (``lessonCaptures(maxCaptures:)``) and applies the lesson to its own model.
    mutating func learn(settings: FleetSimulationConfiguration, library: ScenarioLibrary, guardrail: Guardrail, round: Int) async throws {
        guard !captures.isEmpty else { return }
        if anchor == nil {
            anchor = try await FleetSimulation.anchor(for: policy, library: library, settings: settings)
        }
        if check == nil {
            check = .some(try await FleetSimulation.lessonCheck(for: policy, library: library, guardrail: guardrail, settings: settings))
        }
        var configuration = settings.lessonLearner(node: mirrors, round: round)
        configuration.labelling.concurrency = 2  // twins learn one after another, so each may use both cores
        let learner = EdgeLearner(configuration: configuration, scenarios: library)
        var compressor = self.compressor
        let delta = try await lessonDelta(
            learner: learner, anchor: anchor ?? TrainingSet(width: policy.architecture.inputs), check: check ?? nil,
            maxCaptures: settings.maxCaptures, header: DeltaHeader(nodeID: id, baseVersion: 0, round: UInt64(round)), compressor: &compressor)
        self.compressor = compressor
        lessonDelivered(maxCaptures: settings.maxCaptures)
        guard let delta else { return }  // its own check withheld the lesson
        policy = try DeltaApplier.apply(delta, to: policy)
        anchor = nil
        check = nil
        lessons += 1
    }
}
