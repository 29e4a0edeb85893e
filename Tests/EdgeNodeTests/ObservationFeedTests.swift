import DrivingSimulator
import Foundation
import Testing
@testable import EdgeNode

/// The JSON-lines feed of a real vehicle stack: good lines parse, bad ones are refused with a reason.
@Suite("Observation feed")
struct ObservationFeedTests {
    let fleet = TestFleet.shared

    static func observation(ttc: Double = 10, speed: Double = 25) -> [Double] {
        var values = [Double](repeating: 0, count: Observation.size)
        values[0] = speed / 40
        values[5] = speed / 40
        values[6] = 30.0 / 40
        values[Observation.laneOffset + 6] = min(ttc / 10, 1)
        values[Observation.environmentOffset] = 0.9
        return values
    }

    static func line(time: Double, observation: [Double] = observation(), extra: String = "") -> String {
        "{\"time\": \(time), \"observation\": [\(observation.map { String($0) }.joined(separator: ","))]\(extra)}"
    }

    @Test("a good line parses into a frame")
    func parses() throws {
        let frame = try ObservationFrame.parse(Array(Self.line(time: 1.5, extra: ", \"lane_width\": 3.5").utf8), number: 1)
        #expect(frame.time == 1.5)
        #expect(frame.laneWidth == 3.5)
        #expect(frame.observation.values.count == Observation.size)
        #expect(abs(frame.observation.egoSpeed - 25) < 1e-4)
        #expect(frame.scene == nil)
    }

    @Test("bad lines are refused with the line number and what is wrong", arguments: [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (#"{"observation": []}"#, "missing field 'time'"),
        (#"{"time": "soon", "observation": []}"#, "'time' must be a finite number"),
        (#"{"time": 1}"#, "missing field 'observation'"),
        (#"{"time": 1, "observation": [1, 2, 3]}"#, "has 3 values; expected 109"),
        (line(time: 1, observation: Array(repeating: 0, count: 75) + [Double.nan]), "not valid JSON"),
        (line(time: 1, extra: #", "speed": 3"#), "unknown field 'speed'"),
        (line(time: 1, extra: #", "lane_width": -2"#), "'lane_width' must be a positive number"),
        (line(time: 1, extra: #", "scene": {"road": 1}"#), "'scene' is not a simulator world"),
    ])
    func rejects(_ text: String, _ reason: String) {
        do {
            _ = try ObservationFrame.parse(Array(text.utf8), number: 7)
            Issue.record("'\(text)' must be refused")
        } catch {
            #expect(error.code == .invalidObservation)
            #expect(error.message.hasPrefix("observation line 7: "))
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test("a string inside the observation is refused, naming its index")
    func nonNumber() {
        var parts = Self.observation().map { String($0) }
        parts[12] = "\"x\""
        let text = "{\"time\": 1, \"observation\": [\(parts.joined(separator: ","))]}"
        do {
            _ = try ObservationFrame.parse(Array(text.utf8), number: 1)
            Issue.record("a string among the numbers must be refused")
        } catch {
            #expect(error.code == .invalidObservation)
            #expect(error.message.contains("'observation'[12]"), "\(error.message)")
        }
    }

    @Test("a trigger on a frame with a scene becomes a replayable capture; time may not run backwards")
    func triggersCapture() throws {
        let content = SimulatorContent(root: fleet.simulator)
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let (_, world) = try library.build(ScenarioBuilder.episode(library.scenarios[0], index: 0))
        let live = LivePolicy(.init(version: 3, policy: fleet.basePolicy))
        var feed = FeedDriver(live: live, guardrail: nil, triggers: TriggerConfiguration(), seed: 1)
        var captures: [Capture] = []
        for (index, time) in [0.0, 1.0, 2.0, 3.0].enumerated() {
            let ttc = time == 3 ? 0.8 : 10  // the lead closes in at t = 3 s
            let frame = ObservationFrame(
                time: time, observation: Observation(values: Self.observation(ttc: ttc).map(Float.init)), scene: world)
            let (decision, made) = try feed.process(frame, line: index + 1)
            #expect(decision.modelVersion == 3)
            captures += made
        }
        #expect(captures.count == 1)
        #expect(captures.first?.trigger.kind == .timeToCollision)
        #expect(captures.first?.driver == "policy-v3")
        let stale = ObservationFrame(time: 2.5, observation: Observation(values: Self.observation().map(Float.init)))
        #expect(throws: AgentError(.invalidObservation, "")) { _ = try feed.process(stale, line: 5) }
    }
}

/// Reading a feed that may block forever (standard input of a vehicle stack).
@Suite("Line reader", .timeLimit(.minutes(30)))
struct LineReaderTests {
    @Test("lines arrive as they are written, and a waiting read ends at once when cancelled")
    func pipe() async throws {
        let pipe = Pipe()
        let reader = LineReader(handle: pipe.fileHandleForReading)
        pipe.fileHandleForWriting.write(Data("first\r\nsecond\n".utf8))
        #expect(try await reader.nextLine() == Array("first".utf8))
        #expect(try await reader.nextLine() == Array("second".utf8))

        // Nothing more is written: the next read waits until its task is cancelled
        // (without the cancellation escape it would wait forever and hit the time limit).
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask {
                do { return "line \(try await reader.nextLine() ?? [])" } catch is CancellationError { return "cancelled" } catch {
                    return "\(error)"
                }
            }
            group.cancelAll()
            return await group.next() ?? "none"
        }
        #expect(outcome == "cancelled")
        try pipe.fileHandleForWriting.close()
    }

    @Test("the end of input ends the feed; a last line without a newline still counts")
    func endOfInput() async throws {
        let pipe = Pipe()
        let reader = LineReader(handle: pipe.fileHandleForReading)
        pipe.fileHandleForWriting.write(Data("only".utf8))
        try pipe.fileHandleForWriting.close()
        #expect(try await reader.nextLine() == Array("only".utf8))
        #expect(try await reader.nextLine() == nil)
    }

    @Test("an over-long line is refused instead of filling memory")
    func overlong() async throws {
        let pipe = Pipe()
        let reader = LineReader(handle: pipe.fileHandleForReading, maxLineBytes: 64)
        pipe.fileHandleForWriting.write(Data(repeating: UInt8(ascii: "x"), count: 200))
        try pipe.fileHandleForWriting.close()
        await #expect(throws: AgentError(.invalidObservation, "")) { _ = try await reader.nextLine() }
    }
}
