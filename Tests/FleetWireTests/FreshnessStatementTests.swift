import Foundation
import Testing
import FleetWire

@Suite("freshness statement")
struct FreshnessStatementTests {
    let hash = "sha256:" + String(repeating: "0f", count: 32)

    @Test("a heartbeat reply without freshness (an older coordinator) still decodes; with it, the statement round-trips")
    func additive() throws {
        let old = try JSONDecoder().decode(
            HeartbeatReply.self, from: Data(#"{"current_version":3,"open_round":null,"heartbeat_interval":10}"#.utf8))
        #expect(old == HeartbeatReply(currentVersion: 3, openRound: nil, heartbeatInterval: 10))
        #expect(old.freshness == nil)

        let bytes = try FreshnessStatement(version: 3, contentHash: hash, issuedAt: 100, expiresAt: 200).canonicalBytes()
        let reply = HeartbeatReply(
            currentVersion: 3, openRound: 2, heartbeatInterval: 10,
            freshness: SignedFreshness(statementBytes: bytes, signature: [1, 2, 3]))
        let json = try JSONEncoder().encode(reply)
        #expect(String(decoding: json, as: UTF8.self).contains(#""freshness":{"#))
        let decoded = try JSONDecoder().decode(HeartbeatReply.self, from: json)
        #expect(decoded == reply)
        #expect(try FreshnessStatement.decode(try #require(decoded.freshness?.statementBytes)).version == 3)
    }

    @Test("the signed bytes are canonical: sorted keys, the spec's names")
    func canonical() throws {
        let bytes = try FreshnessStatement(version: 20, contentHash: hash, issuedAt: 1_767_225_600, expiresAt: 1_767_312_000).canonicalBytes()
        #expect(String(decoding: bytes, as: UTF8.self)
                == #"{"content_hash":"\#(hash)","expires_at":1767312000,"format":"fleet-freshness/1","issued_at":1767225600,"version":20}"#)
    }

    @Test("a manifest, another format, a bad hash or an expiry before issue is not a statement")
    func refusesOtherDocuments() {
        let wrongFormat = #"{"content_hash":"\#(hash)","expires_at":2,"format":"fleet-model/1","issued_at":1,"version":1}"#
        #expect(throws: FleetWireError.self) { _ = try FreshnessStatement.decode(Array(wrongFormat.utf8)) }
        let badHash = #"{"content_hash":"md5:00","expires_at":2,"format":"fleet-freshness/1","issued_at":1,"version":1}"#
        #expect(throws: FleetWireError.self) { _ = try FreshnessStatement.decode(Array(badHash.utf8)) }
        let backwards = #"{"content_hash":"\#(hash)","expires_at":1,"format":"fleet-freshness/1","issued_at":2,"version":1}"#
        #expect(throws: FleetWireError.self) { _ = try FreshnessStatement.decode(Array(backwards.utf8)) }
    }
}
