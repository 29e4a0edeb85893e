import Foundation
import Testing
@testable import DrivingSimulator

@Suite("Malformed scenario files are rejected with the file and field named")
struct MalformedScenarioTests {
    /// A valid scenario as a JSON object to mutate.
    static func base() -> [String: Any] {
        [
            "schema": "fleet-scenario/1", "family": "test", "seed": 1,
            "parameters": ["gap": ["easy": 30, "hard": 10]],
            "road": ["lanes": 3, "segments": [["length": 500, "speedLimit": 30]]],
            "ego": ["lane": 1, "speed": 25],
            "agents": [["id": "lead", "kind": "car", "lane": 1, "ahead": "$gap", "speed": 20,
                        "actions": [["type": "brake", "deceleration": 6, "when": ["time": 1]]]]],
            "environment": ["friction": 0.8],
        ]
    }

    static func parse(_ object: [String: Any]) throws -> Scenario {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try ScenarioParser.parse(data, file: "broken.json")
    }

    @Test("the unmodified fixture is valid")
    func baseIsValid() throws {
        let scenario = try Self.parse(Self.base())
        #expect(scenario.agents.count == 1)
    }

    struct Case: Sendable, CustomStringConvertible {
        let description: String
        let field: String
        let mutate: @Sendable (inout [String: Any]) -> Void
    }

    static let cases: [Case] = [
        Case(description: "misspelt environment key", field: "environment.frition") { $0["environment"] = ["frition": 0.2] },
        Case(description: "friction out of range", field: "environment.friction") { $0["environment"] = ["friction": 3.0] },
        Case(description: "unsupported schema", field: "schema") { $0["schema"] = "fleet-scenario/9" },
        Case(description: "missing road", field: "road") { $0["road"] = nil },
        Case(description: "lanes of the wrong type", field: "road.lanes") {
            $0["road"] = ["lanes": "three", "segments": [["length": 500, "speedLimit": 30]]]
        },
        Case(description: "ego in a lane that does not exist", field: "ego.lane") { $0["ego"] = ["lane": 5, "speed": 25] },
        Case(description: "undeclared parameter", field: "agents[0].ahead") {
            $0["agents"] = [["id": "lead", "kind": "car", "lane": 1, "ahead": "$nope"]]
        },
        Case(description: "unknown agent kind", field: "agents[0].kind") {
            $0["agents"] = [["id": "x", "kind": "tank", "lane": 1, "ahead": 10]]
        },
        Case(description: "unknown action", field: "agents[0].actions[0].type") {
            $0["agents"] = [["id": "x", "kind": "car", "lane": 1, "ahead": 10, "actions": [["type": "fly", "when": ["time": 1]]]]]
        },
        Case(description: "two start conditions", field: "agents[0].actions[0].when") {
            $0["agents"] = [["id": "x", "kind": "car", "lane": 1, "ahead": 10,
                             "actions": [["type": "stop", "when": ["time": 1, "ttc": 2]]]]]
        },
        Case(description: "parameter range wider than the field allows", field: "environment.friction") {
            $0["parameters"] = ["gap": ["easy": 30, "hard": 10], "mu": ["range": [0.0, 0.5]]]
            $0["environment"] = ["friction": "$mu"]
        },
        Case(description: "inverted parameter range", field: "parameters.mu.range") {
            $0["parameters"] = ["mu": ["range": [0.5, 0.1]]]
        },
        Case(description: "duplicate agent ids", field: "agents[1].id") {
            $0["agents"] = [["id": "a", "kind": "car", "lane": 1, "ahead": 10], ["id": "a", "kind": "car", "lane": 0, "ahead": 20]]
        },
    ]

    @Test("each malformation names broken.json and its field", arguments: cases)
    func rejected(_ testCase: Case) {
        var object = Self.base()
        testCase.mutate(&object)
        do {
            _ = try Self.parse(object)
            Issue.record("\(testCase.description) was accepted")
        } catch let error as SimulationError {
            #expect(error.file == "broken.json")
            #expect(error.field == testCase.field, "\(error.message)")
            #expect(error.message.contains("broken.json") && error.message.contains(testCase.field))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("text that is not JSON names the file")
    func notJSON() {
        #expect {
            try ScenarioParser.parse(Data("{ nope".utf8), file: "garbage.json")
        } throws: { error in
            (error as? SimulationError)?.code == .malformedJSON && "\(error)".contains("garbage.json")
        }
    }

    @Test("a gold entry with an undeclared parameter is rejected with its field")
    func badGoldEntry() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gold-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad-gold.json")
        let text = """
        {"schema": "fleet-gold/1", "version": 1, "episodes": [
          {"id": "x", "family": "cut-in", "scenario": "cut-in.json", "seed": 5, "parameters": {"warp": 9}}]}
        """
        try Data(text.utf8).write(to: file)
        #expect {
            try GoldSuite.load(contentsOf: file, library: Fixtures.library)
        } throws: { error in
            let error = error as? SimulationError
            return error?.file == "bad-gold.json" && error?.field == "episodes[0].parameters.warp"
        }
    }
}
