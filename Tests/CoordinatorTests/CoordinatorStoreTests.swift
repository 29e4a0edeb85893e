import Foundation
import Testing
import Coordinator

@Suite("coordinator store")
struct CoordinatorStoreTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString).sqlite").path
    }

    @Test("versions, rounds, updates and the audit trail survive reopening")
    func persistence() throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            let store = try CoordinatorStore(path: path)
            try store.insert(.init(version: 1, parent: nil, status: .published, contentHash: "sha256:a", manifest: [1], signature: [9], createdAt: 1))
            try store.insert(.init(version: 2, parent: 1, status: .rejected, contentHash: "sha256:b", manifest: [2], signature: nil, createdAt: 2))
            try store.nodeSeen("b", at: 2)
            try store.save(.init(number: 1, baseVersion: 1, status: .collecting, openedAt: 3, invitedCount: 2))
            try store.recordAcceptedUpdate(round: 1, node: "b", blobHash: "sha256:u1", at: 4)
            try store.recordAcceptedUpdate(round: 1, node: "a", blobHash: "sha256:u2", at: 5)
            try store.nodeSeen("a", at: 7)
            try store.nodeSeen("a", at: 3, region: "alpine")  // an older sighting moves no time back
            #expect(try store.nodeCount(seenSince: 2) == 2 && store.nodeCount(seenSince: 5) == 1)
            var sampler = ParticipantSampler(choosing: 2, of: 2, seed: 1)
            #expect(try store.invite(round: 1, nodesSeenSince: 0, sampler: &sampler) == 2)
            try store.audit("gate", subject: "version 2", detail: "fog regressed", at: 6)
        }
        let store = try CoordinatorStore(path: path)
        #expect(try store.latestPublished()?.version == 1)
        #expect(try store.versions().map(\.version) == [2, 1])
        #expect(try store.highestVersionNumber() == 2)
        let round = try #require(try store.unfinishedRound())
        #expect(round.number == 1 && round.invitedCount == 2)
        #expect(try store.participants(of: 1) == ["a", "b"])
        #expect(try store.isInvited("a", to: 1) && !(try store.isInvited("c", to: 1)))
        #expect(try store.acceptedUpdates(round: 1).map(\.node) == ["b", "a"])
        #expect(try store.contributors(of: 1) == ["b", "a"])
        #expect(try store.hasSent("a", in: 1) && !(try store.hasSent("a", in: 2)))
        let nodes = try store.nodes()
        #expect(nodes.map(\.id) == ["a", "b"])
        #expect(nodes.first?.firstSeen == 3 && nodes.first?.lastSeen == 7 && nodes.first?.region == "alpine")
        #expect(try store.auditTrail().first?.detail == "fog regressed")
    }

    @Test("an update is acknowledged once per node and round")
    func replayedUpdate() throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try CoordinatorStore(path: path)
        try store.save(.init(number: 4, baseVersion: 1, status: .collecting, openedAt: 0, invitedCount: 1))
        try store.recordAcceptedUpdate(round: 4, node: "a", blobHash: "sha256:x", at: 1)
        #expect(throws: CoordinatorError(.storage, "")) {
            try store.recordAcceptedUpdate(round: 4, node: "a", blobHash: "sha256:x", at: 2)
        }
    }

    @Test("approving a version changes its status; an unknown version is not found")
    func approval() throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try CoordinatorStore(path: path)
        try store.insert(.init(version: 5, parent: 4, status: .awaitingApproval, contentHash: "sha256:c", manifest: [5], signature: nil, createdAt: 1))
        #expect(try store.latestPublished() == nil)
        try store.setStatus(.published, signature: [7, 7], of: 5)
        #expect(try store.latestPublished()?.signature == Data([7, 7]))
        #expect(throws: CoordinatorError(.notFound, "")) { try store.setStatus(.published, of: 6) }
    }

    @Test("a file that is not a database is refused with a storage error")
    func garbageFile() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x42, count: 4_096).write(to: URL(fileURLWithPath: path))
        #expect(throws: CoordinatorError(.storage, "")) { try CoordinatorStore(path: path) }
    }
}
