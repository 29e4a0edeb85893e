import Foundation
import Testing
import Coordinator
import FleetWire
import SecureTransport

@Suite("freshness statements (in-process)")
struct FreshnessTests {
    func statement(_ reply: HeartbeatReply) throws -> FreshnessStatement {
        let signed = try #require(reply.freshness, "the heartbeat reply carries a freshness statement")
        let bytes = try #require(signed.statementBytes)
        let signature = try #require(signed.signatureBytes)
        #expect(ModelSignature.isValid(signature, of: bytes, with: Fixture.signingKey.publicKey), "signed with the model-signing key")
        return try FreshnessStatement.decode(bytes)
    }

    @Test("a heartbeat reply carries a signed statement of the current version and its hash, valid for the configured time and re-signed as it ages")
    func heartbeatCarriesFreshness() async throws {
        let directory = Fixture.temporaryDirectory("freshness")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = Fixture.configuration(directory: directory)
        configuration.freshnessValidity = 7_200
        let clock = ManualClock()
        let service = try await Fixture.service(configuration, clock: clock)
        let start = clock.now()

        let first = try statement(await service.heartbeat(from: "car-1", .init(state: .driving)))
        #expect(first.version == 1)
        let served = await service.currentModel()
        #expect(first.contentHash == served.contentHash)
        #expect(first.issuedAt == start && first.expiresAt == start + 7_200)

        // Within a quarter of the validity (at most an hour) the same statement is reused...
        clock.advance(by: 600)
        let reused = try statement(await service.heartbeat(from: "car-2", .init(state: .driving)))
        #expect(reused == first)
        // ...then a new one is signed: the version is unchanged, the times move on.
        clock.advance(by: 1_200)
        let later = try statement(await service.heartbeat(from: "car-1", .init(state: .driving)))
        #expect(later.version == 1 && later.issuedAt == start + 1_800 && later.expiresAt == start + 1_800 + 7_200)
    }

    @Test("a freshness validity under a minute is refused, naming the field")
    func validation() {
        var configuration = Fixture.configuration(directory: Fixture.temporaryDirectory("freshness-invalid"))
        configuration.freshnessValidity = 10
        #expect(throws: CoordinatorError.self) { try configuration.validate() }
    }
}
