import Foundation
import GRDB
import Logging
import Testing
@testable import Coordinator

@Suite("stored round ledger")
struct StoredRoundLedgerTests {
    func withStore(_ body: (CoordinatorStore) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try body(try CoordinatorStore(path: path))
    }

    @Test("sightings are buffered, answered from the buffer, and written before any question reads them")
    func buffering() throws {
        try withStore { store in
            let ledger = StoredRoundLedger(store: store, logger: Logger(label: "test"))
            #expect(ledger.noteSeen("a", at: 10) == nil)
            #expect(ledger.noteSeen("a", at: 12) == 10)
            ledger.noteDetails(of: "a", at: 12, region: "alpine", modelVersion: 3)
            #expect(try store.nodeCount() == 0, "nothing written yet")
            #expect(ledger.liveCount(since: 11) == 1)
            let row = try #require(try store.nodes().first)
            #expect(row.lastSeen == 12 && row.region == "alpine" && row.modelVersion == 3)
            // Known from the database once the buffer was written.
            #expect(ledger.noteSeen("a", at: 20) == 12)
            // A full buffer writes itself.
            for index in 0..<StoredRoundLedger.flushThreshold { _ = ledger.noteSeen("n\(index)", at: 30) }
            #expect(try store.nodeCount() >= StoredRoundLedger.flushThreshold)
        }
    }

    @Test("the database ledger invites, admits and counts exactly as the in-memory one")
    func sameAnswersAsMemory() throws {
        try withStore { store in
            let stored = StoredRoundLedger(store: store, logger: Logger(label: "test"))
            let memory = InMemoryRoundLedger()
            let nodes = (0..<300).map { String(format: "car-%03d", ($0 * 7) % 300) }  // offered out of order
            for (index, node) in nodes.enumerated() {
                let time = Double(index % 50)  // some nodes seen long ago
                _ = stored.noteSeen(node, at: time)
                _ = memory.noteSeen(node, at: time)
            }
            #expect(stored.liveCount(since: 20) == memory.liveCount(since: 20))
            var first = ParticipantSampler(choosing: 40, of: memory.liveCount(since: 20), seed: 11)
            var second = first
            #expect(stored.invite(round: 1, liveSince: 20, sampler: &first) == 40)
            #expect(memory.invite(round: 1, liveSince: 20, sampler: &second) == 40)
            let invited = memory.participants(of: 1)
            try store.save(.init(number: 1, baseVersion: 1, status: .collecting, openedAt: 50, invitedCount: 40))
            #expect(try store.participants(of: 1) == invited)
            // Half of them send; a quarter of the rest go quiet.
            for node in invited.prefix(20) {
                try store.recordAcceptedUpdate(round: 1, node: node, blobHash: "sha256:\(node)", at: 60)
                memory.recordAccepted(node, in: 1, at: 60)
            }
            for node in invited.dropFirst(25) {
                _ = stored.noteSeen(node, at: 70)
                _ = memory.noteSeen(node, at: 70)
            }
            let storedCount = stored.reachableParticipants(of: 1, aliveSince: 65)
            let memoryCount = memory.reachableParticipants(of: 1, aliveSince: 65)
            #expect(storedCount.count == memoryCount.count && storedCount.count == 35)
            #expect(storedCount.oldestAlive == memoryCount.oldestAlive)
            #expect(stored.hasSent(invited[0], in: 1) && !stored.hasSent(invited[30], in: 1))
            #expect(stored.isInvited(invited[30], to: 1) && !stored.isInvited("car-999", to: 1))
            stored.refreshParticipants(of: 1, at: 100)
            #expect(stored.reachableParticipants(of: 1, aliveSince: 99).count == 40)
        }
    }

    @Test("a database written before the participant table keeps its rounds' invited nodes")
    func migration() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-v1-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            // The first schema, as an older coordinator left it.
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1');
                    CREATE TABLE node (id TEXT PRIMARY KEY, firstSeen DOUBLE NOT NULL, lastSeen DOUBLE NOT NULL, region TEXT, modelVersion INTEGER);
                    CREATE TABLE version (version INTEGER PRIMARY KEY, parent INTEGER, status TEXT NOT NULL, contentHash TEXT NOT NULL,
                        manifest BLOB NOT NULL, signature BLOB, createdAt DOUBLE NOT NULL);
                    CREATE TABLE round (number INTEGER PRIMARY KEY, baseVersion INTEGER NOT NULL, status TEXT NOT NULL,
                        openedAt DOUBLE NOT NULL, closedAt DOUBLE, participants TEXT NOT NULL, reason TEXT);
                    CREATE TABLE acceptedUpdate (round INTEGER NOT NULL REFERENCES round(number) ON DELETE CASCADE,
                        node TEXT NOT NULL, blobHash TEXT NOT NULL, receivedAt DOUBLE NOT NULL, PRIMARY KEY (round, node));
                    CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE NOT NULL, kind TEXT NOT NULL,
                        subject TEXT NOT NULL, detail TEXT NOT NULL);
                    INSERT INTO round VALUES (1, 1, 'published', 0, 5, '["a","b","c"]', NULL);
                    INSERT INTO round VALUES (2, 1, 'collecting', 6, NULL, '[]', NULL);
                    """)
            }
        }
        let store = try CoordinatorStore(path: path)
        #expect(try store.participants(of: 1) == ["a", "b", "c"])
        #expect(try store.round(1)?.invitedCount == 3)
        #expect(try store.round(2)?.invitedCount == nil)
        #expect(try store.integrityCheck() == "ok")
    }
}
