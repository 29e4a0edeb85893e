public import Foundation

/// An edge-case capture: the world shortly before a trigger, the trigger, and how to replay it.
///
/// The snapshot is a complete `World` (actors, storyboard progress, sensor
/// generator, latency queue) taken at a decision boundary `lead` seconds
/// before the trigger, so running the same deterministic driver from it
/// reproduces the same trigger at the same simulation time. Variations
/// perturb the snapshot (see `VariationSampler`).
public struct Capture: Sendable, Codable {
    /// The schema string this build reads and writes.
    public static let schema = "fleet-capture/1"

    public var schema: String
    /// What fired.
    public var trigger: TriggerEvent
    /// The seed of the episode it came from (variations mix from it).
    public var seed: UInt64
    /// The episode, when it came from a scenario.
    public var episode: EpisodeSpec?
    /// The driver that was driving.
    public var driver: String
    /// Simulation steps per decision.
    public var decisionSteps: Int
    /// The guardrail that filtered the driver, if any (replays use it too).
    public var guardrail: [GuardrailRule]?
    /// Whether a shadow teacher was watching (replays watch too).
    public var shadowTeacher: Bool
    /// The trigger thresholds in force.
    public var triggers: TriggerConfiguration
    /// The world at the start of the replay window.
    public var snapshot: World
    /// The declared ranges its variations are drawn from.
    public var variationRanges: VariationRanges

    /// Runs `driver` from the snapshot until just after the captured trigger time.
    ///
    /// - Returns: the replay's result; its first trigger of the captured kind
    ///   matches `trigger` when the driver is the deterministic one that was driving.
    public func replay(driver: inout some Driver) -> EpisodeResult {
        var options = EpisodeOptions(duration: trigger.time + 0.5, decisionSteps: decisionSteps)
        options.triggers = triggers
        options.guardrail = guardrail.map { Guardrail(rules: $0) }
        options.shadowTeacher = shadowTeacher ? TeacherDriver() : nil
        return EpisodeRunner.run(snapshot, driver: &driver, options: options)
    }

    /// JSON encoding (sorted keys, so equal captures give equal bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads a capture, naming the file on failure.
    public static func load(contentsOf url: URL) throws -> Capture {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SimulationError(code: .unreadableFile, message: "cannot read the capture (\(error.localizedDescription))",
                                  file: url.lastPathComponent)
        }
        let capture: Capture
        do { capture = try JSONDecoder().decode(Capture.self, from: data) } catch {
            throw SimulationError(code: .malformedJSON, message: "not a valid capture (\(error))", file: url.lastPathComponent)
        }
        guard capture.schema == Capture.schema else {
            throw SimulationError(code: .unsupportedSchema, message: "schema '\(capture.schema)' is not supported",
                                  file: url.lastPathComponent, field: "schema")
        }
        return capture
    }
}
