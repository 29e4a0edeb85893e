public import DrivingSimulator
import Foundation

/// One line of the JSON-lines feed a real vehicle stack writes: what the car sees now.
///
/// ```json
/// {"time": 12.4, "observation": [109 numbers], "lane_width": 3.7, "scene": { … }}
/// ```
///
/// `time` (seconds, never decreasing) and `observation` (the
/// ``DrivingSimulator/Observation`` layout: exactly `Observation.size` finite
/// numbers, normalized as documented there) are required. `lane_width`
/// (metres, default 4) feeds the guardrail. `scene` is optional: the car's
/// reconstruction of the scene as a simulator world (the `snapshot` format of
/// a capture). Without scenes the node still drives and counts triggers, but
/// only frames with a scene can become captures, because a capture must be
/// replayable in the simulator.
public struct ObservationFrame: Sendable {
    public var time: Double
    public var observation: Observation
    public var laneWidth: Double
    public var scene: World?

    public init(time: Double, observation: Observation, laneWidth: Double = 4, scene: World? = nil) {
        self.time = time
        self.observation = observation
        self.laneWidth = laneWidth
        self.scene = scene
    }

    static let fields: Set<String> = ["time", "observation", "lane_width", "scene"]

    /// Parses one line.
    ///
    /// - Parameters:
    ///   - line: the line's bytes, without the newline.
    ///   - number: its 1-based line number, for the message.
    /// - Throws: ``AgentError/Code/invalidObservation`` naming the line and what is wrong with it.
    public static func parse(_ line: some Collection<UInt8>, number: Int) throws(AgentError) -> ObservationFrame {
        func bad(_ message: String, field: String? = nil) -> AgentError {
            var context = ["line": "\(number)"]
            if let field { context["field"] = field }
            return AgentError(.invalidObservation, "observation line \(number): \(message)", context: context)
        }
        let data = Data(line)
        let object: [String: FeedValue]
        do {
            guard case .object(let parsed) = try JSONDecoder().decode(FeedValue.self, from: data) else {
                throw bad("expected a JSON object")
            }
            object = parsed
        } catch let error as AgentError {
            throw error
        } catch {
            throw bad("not valid JSON (\(Self.describe(error)))")
        }
        if let unknown = object.keys.filter({ !fields.contains($0) }).sorted().first {
            throw bad("unknown field '\(unknown)' (expected \(fields.sorted().joined(separator: ", ")))", field: unknown)
        }
        guard let timeValue = object["time"] else { throw bad("missing field 'time'", field: "time") }
        guard case .number(let time) = timeValue, time.isFinite else {
            throw bad("'time' must be a finite number of seconds", field: "time")
        }
        guard let raw = object["observation"] else { throw bad("missing field 'observation'", field: "observation") }
        guard case .array(let numbers) = raw else { throw bad("'observation' must be an array of numbers", field: "observation") }
        guard numbers.count == Observation.size else {
            throw bad("'observation' has \(numbers.count) values; expected \(Observation.size)", field: "observation")
        }
        var values = [Float](repeating: 0, count: Observation.size)
        for (index, element) in numbers.enumerated() {
            guard case .number(let number) = element, number.isFinite else {
                throw bad("'observation'[\(index)] is not a finite number", field: "observation")
            }
            values[index] = Float(number)
        }
        var laneWidth = 4.0
        if let value = object["lane_width"] {
            guard case .number(let width) = value, width.isFinite, width > 0 else {
                throw bad("'lane_width' must be a positive number of metres", field: "lane_width")
            }
            laneWidth = width
        }
        var scene: World?
        if let value = object["scene"], value != .null {
            // Decoded again from the original bytes: a world holds 64-bit generator states a Double would round.
            do {
                scene = try JSONDecoder().decode(SceneField.self, from: data).scene
            } catch {
                throw bad("'scene' is not a simulator world (\(Self.describe(error)))", field: "scene")
            }
        }
        return ObservationFrame(time: time, observation: Observation(values: values), laneWidth: laneWidth, scene: scene)
    }

    /// Any JSON value (numbers as Double: enough for every field but the scene).
    private enum FeedValue: Decodable, Equatable {
        case null, bool(Bool), number(Double), string(String), array([FeedValue]), object([String: FeedValue])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([FeedValue].self) { self = .array(value) }
            else { self = .object(try container.decode([String: FeedValue].self)) }
        }
    }

    private struct SceneField: Decodable {
        var scene: World
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(path(context)).\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
