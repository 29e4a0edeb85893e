import Foundation
import Testing
import FleetWire

@Suite("control messages")
struct ControlMessageTests {
    @Test("messages use the spec's snake_case keys both ways")
    func snakeCase() throws {
        let heartbeat = NodeHeartbeat(state: .adapting, modelVersion: 3, region: "coast", capturesPending: 2)
        let json = try #require(String(data: try JSONEncoder().encode(heartbeat), encoding: .utf8))
        #expect(json.contains("\"model_version\":3") && json.contains("\"captures_pending\":2"))
        #expect(try JSONDecoder().decode(NodeHeartbeat.self, from: Data(json.utf8)) == heartbeat)

        let task = try JSONDecoder().decode(
            TaskAssignment.self, from: Data(#"{"round":4,"base_version":3,"deadline_seconds":12.5}"#.utf8))
        #expect(task == TaskAssignment(round: 4, baseVersion: 3, deadlineSeconds: 12.5))
    }

    @Test("optional fields may be absent; a missing required field is a decoding error")
    func optionalFields() throws {
        let minimal = try JSONDecoder().decode(NodeHeartbeat.self, from: Data(#"{"state":"driving"}"#.utf8))
        #expect(minimal == NodeHeartbeat(state: .driving))
        let conflict = try JSONDecoder().decode(
            ErrorReply.self, from: Data(#"{"error":"round_closed","message":"round 3 is closed","current_round":4}"#.utf8))
        #expect(conflict.currentRound == 4)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(UpdateReceipt.self, from: Data(#"{"round":4}"#.utf8))
        }
    }
}
