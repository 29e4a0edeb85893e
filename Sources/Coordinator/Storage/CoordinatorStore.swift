public import Foundation
import GRDB

/// The coordinator's durable state: nodes, rounds, versions, the updates each
/// open round acknowledged, and the audit trail — in SQLite (WAL).
///
/// SQLite in WAL mode commits atomically and survives `kill -9` at any
/// moment: after a restart the coordinator reads the last published version
/// and the open round from here. Large bodies (checkpoints, accepted updates)
/// live in the ``BlobStore``; rows refer to them by content hash, and a row is
/// written only after its blob is durable, so no row ever points at nothing.
public final class CoordinatorStore: Sendable {
    private let database: DatabasePool

    /// Opens (creating and migrating if needed) the database at `path`.
    public init(path: String) throws(CoordinatorError) {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            // Bounded memory whatever the fleet's size: SQLite's default page
            // cache (2 MB per connection) fills as the node and update tables
            // grow, so a pool of six connections held up to 12 MB that grew
            // with the number of nodes. A small cache per connection and two
            // readers keep it under 1 MB; the operating system's page cache
            // still holds the file.
            configuration.maximumReaderCount = 2
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA cache_size = -\(Self.pageCacheKilobytes)")
            }
            database = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw CoordinatorError(.storage, "cannot open the coordinator database at \(path): \(error)")
        }
    }

    /// SQLite's page cache per connection, in KiB.
    static let pageCacheKilobytes = 256

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "node") { t in
                t.primaryKey("id", .text)
                t.column("firstSeen", .double).notNull()
                t.column("lastSeen", .double).notNull()
                t.column("region", .text)
                t.column("modelVersion", .integer)
            }
            try db.create(table: "version") { t in
                t.primaryKey("version", .integer)
                t.column("parent", .integer)
                t.column("status", .text).notNull()
                t.column("contentHash", .text).notNull()
                t.column("manifest", .blob).notNull()
                t.column("signature", .blob)
                t.column("createdAt", .double).notNull()
            }
            try db.create(table: "round") { t in
                t.primaryKey("number", .integer)
                t.column("baseVersion", .integer).notNull()
                t.column("status", .text).notNull()
                t.column("openedAt", .double).notNull()
                t.column("closedAt", .double)
                t.column("participants", .text).notNull()
                t.column("reason", .text)
            }
            try db.create(table: "acceptedUpdate") { t in
                t.column("round", .integer).notNull().references("round", onDelete: .cascade)
                t.column("node", .text).notNull()
                t.column("blobHash", .text).notNull()
                t.column("receivedAt", .double).notNull()
                t.primaryKey(["round", "node"])
            }
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .double).notNull()
                t.column("kind", .text).notNull()
                t.column("subject", .text).notNull()
                t.column("detail", .text).notNull()
            }
        }
        // Round membership moves from a JSON array in the round's row (read
        // whole into memory) to a table queried a node at a time, so the
        // coordinator's memory does not grow with the fleet.
        migrator.registerMigration("v2: participant table") { db in
            try db.create(table: "participant", options: .withoutRowID) { t in
                t.column("round", .integer).notNull()
                t.column("node", .text).notNull()
                t.primaryKey(["round", "node"])
            }
            try db.create(index: "node_lastSeen", on: "node", columns: ["lastSeen"])
            try db.alter(table: "round") { t in t.add(column: "invitedCount", .integer) }
            try db.execute(sql: """
                INSERT OR IGNORE INTO participant (round, node)
                    SELECT round.number, json_each.value FROM round, json_each(round.participants)
                    WHERE json_valid(round.participants);
                UPDATE round SET invitedCount = json_array_length(participants)
                    WHERE json_valid(participants) AND json_array_length(participants) > 0;
                UPDATE round SET participants = '[]';
                """)
        }
        // A published version keeps the delta from its parent beside its
        // checkpoint, so nodes that hold the parent download only the change.
        migrator.registerMigration("v3: version delta") { db in
            try db.alter(table: "version") { t in t.add(column: "deltaHash", .text) }
        }
        return migrator
    }

    private func write<T>(_ what: String, _ body: (Database) throws -> T) throws(CoordinatorError) -> T {
        do {
            return try database.write(body)
        } catch {
            throw CoordinatorError(.storage, "cannot \(what): \(error)")
        }
    }

    private func read<T>(_ what: String, _ body: (Database) throws -> T) throws(CoordinatorError) -> T {
        do {
            return try database.read(body)
        } catch {
            throw CoordinatorError(.storage, "cannot \(what): \(error)")
        }
    }

    // MARK: Nodes

    /// A node known to the coordinator.
    public struct Node: Sendable, Equatable, Codable {
        public var id: String
        public var firstSeen: Double
        public var lastSeen: Double
        public var region: String?
        public var modelVersion: Int64?

        init(row: Row) {
            id = row["id"]
            firstSeen = row["firstSeen"]
            lastSeen = row["lastSeen"]
            region = row["region"]
            modelVersion = row["modelVersion"]
        }
    }

    /// What a request told about a node: when, and the region and model
    /// version it reported (nil: not reported, the stored value stays).
    public struct Sighting: Sendable, Equatable {
        public var time: Double
        public var region: String?
        public var modelVersion: UInt64?

        public init(time: Double, region: String? = nil, modelVersion: UInt64? = nil) {
            self.time = time
            self.region = region
            self.modelVersion = modelVersion
        }
    }

    /// Records that `id` was heard from.
    public func nodeSeen(_ id: String, at time: Double, region: String? = nil, modelVersion: UInt64? = nil) throws(CoordinatorError) {
        try record([id: Sighting(time: time, region: region, modelVersion: modelVersion)])
    }

    /// Records many sightings in one transaction (one commit, one sync).
    /// A node's last-seen time never moves back.
    public func record(_ sightings: [String: Sighting]) throws(CoordinatorError) {
        guard !sightings.isEmpty else { return }
        try write("record \(sightings.count) node sightings") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO node (id, firstSeen, lastSeen, region, modelVersion) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET lastSeen = MAX(lastSeen, excluded.lastSeen), firstSeen = MIN(firstSeen, excluded.firstSeen),
                    region = COALESCE(excluded.region, region), modelVersion = COALESCE(excluded.modelVersion, modelVersion)
                """)
            for (id, sighting) in sightings {
                try statement.execute(arguments: [id, sighting.time, sighting.time, sighting.region, sighting.modelVersion.map(Int64.init)])
            }
        }
    }

    /// When `id` was last heard from, as stored; nil for a node never seen.
    public func lastSeen(of id: String) throws(CoordinatorError) -> Double? {
        try read("read node \(id)") { db in
            try Double.fetchOne(db, sql: "SELECT lastSeen FROM node WHERE id = ?", arguments: [id])
        }
    }

    /// How many nodes were heard from at or after `time`.
    public func nodeCount(seenSince time: Double) throws(CoordinatorError) -> Int {
        try read("count live nodes") { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node WHERE lastSeen >= ?", arguments: [time]) ?? 0
        }
    }

    /// How many nodes the coordinator knows.
    public func nodeCount() throws(CoordinatorError) -> Int {
        try read("count nodes") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node") ?? 0 }
    }

    /// The `limit` nodes heard from most recently, newest first.
    public func recentNodes(limit: Int) throws(CoordinatorError) -> [Node] {
        try read("list nodes") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM node ORDER BY lastSeen DESC, id LIMIT ?", arguments: [limit]).map(Node.init(row:))
        }
    }

    /// Every node, by id.
    public func nodes() throws(CoordinatorError) -> [Node] {
        try read("list nodes") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM node ORDER BY id").map(Node.init(row:))
        }
    }

    // MARK: Versions

    /// A model version (or rejected candidate) and its signed manifest.
    public struct Version: Sendable, Equatable, Codable {
        public enum Status: String, Sendable, Codable {
            case published
            case rejected
            case awaitingApproval = "awaiting_approval"
        }
        public var version: Int64
        public var parent: Int64?
        public var status: Status
        public var contentHash: String
        /// The manifest's canonical bytes, exactly as signed.
        public var manifest: Data
        public var signature: Data?
        public var createdAt: Double
        /// The blob of the zstd delta container from ``parent`` to this version; nil for the seed model.
        public var deltaHash: String?

        public init(
            version: UInt64, parent: UInt64?, status: Status, contentHash: String, manifest: [UInt8], signature: [UInt8]?,
            createdAt: Double, deltaHash: String? = nil
        ) {
            self.deltaHash = deltaHash
            self.version = Int64(clamping: version)
            self.parent = parent.map(Int64.init)
            self.status = status
            self.contentHash = contentHash
            self.manifest = Data(manifest)
            self.signature = signature.map { Data($0) }
            self.createdAt = createdAt
        }

        init(row: Row) {
            version = row["version"]
            parent = row["parent"]
            status = Status(rawValue: row["status"]) ?? .rejected
            contentHash = row["contentHash"]
            manifest = row["manifest"]
            signature = row["signature"]
            createdAt = row["createdAt"]
            deltaHash = row["deltaHash"]
        }

        var arguments: StatementArguments {
            [version, parent, status.rawValue, contentHash, manifest, signature, createdAt, deltaHash]
        }
    }

    /// Stores a version record (its checkpoint and delta blobs must already be durable).
    public func insert(_ version: Version) throws(CoordinatorError) {
        try write("store version \(version.version)") { db in
            try db.execute(
                sql: "INSERT INTO version (version, parent, status, contentHash, manifest, signature, createdAt, deltaHash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: version.arguments
            )
        }
    }

    /// Changes a version's status (manual approval), and its signature if given.
    public func setStatus(_ status: Version.Status, signature: [UInt8]? = nil, of version: UInt64) throws(CoordinatorError) {
        let changed = try write("update version \(version)") { db -> Bool in
            try db.execute(
                sql: "UPDATE version SET status = ?, signature = COALESCE(?, signature) WHERE version = ?",
                arguments: [status.rawValue, signature.map { Data($0) }, Int64(clamping: version)]
            )
            return db.changesCount > 0
        }
        guard changed else { throw CoordinatorError(.notFound, "there is no version \(version)") }
    }

    public func version(_ number: UInt64) throws(CoordinatorError) -> Version? {
        try read("read version \(number)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM version WHERE version = ?", arguments: [Int64(clamping: number)]).map(Version.init(row:))
        }
    }

    /// Every version and candidate, newest first.
    public func versions() throws(CoordinatorError) -> [Version] {
        try read("list versions") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM version ORDER BY version DESC").map(Version.init(row:))
        }
    }

    /// The newest published version.
    public func latestPublished() throws(CoordinatorError) -> Version? {
        try read("read the latest version") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM version WHERE status = ? ORDER BY version DESC LIMIT 1",
                arguments: [Version.Status.published.rawValue]
            ).map(Version.init(row:))
        }
    }

    /// The highest version number used so far (published or not).
    public func highestVersionNumber() throws(CoordinatorError) -> UInt64 {
        try read("read version numbers") { db in
            UInt64(clamping: try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM version") ?? 0)
        }
    }

    // MARK: Rounds

    /// A round as stored.
    public struct Round: Sendable, Equatable, Codable {
        public enum Status: String, Sendable, Codable {
            case collecting, aggregating, gating, published, rejected, abandoned
            case awaitingApproval = "awaiting_approval"
        }
        public var number: Int64
        public var baseVersion: Int64
        public var status: Status
        public var openedAt: Double
        public var closedAt: Double?
        /// How many nodes are invited (they are in the participant table);
        /// nil for an asynchronous buffer, which takes any node.
        public var invitedCount: Int64?
        public var reason: String?

        public init(number: UInt64, baseVersion: UInt64, status: Status, openedAt: Double, closedAt: Double? = nil, invitedCount: Int?, reason: String? = nil) {
            self.number = Int64(clamping: number)
            self.baseVersion = Int64(clamping: baseVersion)
            self.status = status
            self.openedAt = openedAt
            self.closedAt = closedAt
            self.invitedCount = invitedCount.map(Int64.init)
            self.reason = reason
        }

        init(row: Row) {
            number = row["number"]
            baseVersion = row["baseVersion"]
            status = Status(rawValue: row["status"]) ?? .abandoned
            openedAt = row["openedAt"]
            closedAt = row["closedAt"]
            invitedCount = row["invitedCount"]
            reason = row["reason"]
        }
    }

    /// Inserts a round's row or updates it in place (its acknowledged updates stay).
    public func save(_ round: Round) throws(CoordinatorError) {
        try write("store round \(round.number)") { db in
            try db.execute(
                // An upsert, not INSERT OR REPLACE: a replace deletes the row
                // first, and the delete would cascade to the round's acknowledged updates.
                sql: """
                    INSERT INTO round (number, baseVersion, status, openedAt, closedAt, participants, invitedCount, reason)
                        VALUES (?, ?, ?, ?, ?, '[]', ?, ?)
                    ON CONFLICT(number) DO UPDATE SET baseVersion = excluded.baseVersion, status = excluded.status,
                        openedAt = excluded.openedAt, closedAt = excluded.closedAt, invitedCount = excluded.invitedCount,
                        reason = excluded.reason
                    """,
                arguments: [round.number, round.baseVersion, round.status.rawValue, round.openedAt, round.closedAt, round.invitedCount, round.reason]
            )
        }
    }

    public func round(_ number: UInt64) throws(CoordinatorError) -> Round? {
        try read("read round \(number)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM round WHERE number = ?", arguments: [Int64(clamping: number)]).map(Round.init(row:))
        }
    }

    /// The round that was collecting when the coordinator stopped, if any.
    public func unfinishedRound() throws(CoordinatorError) -> Round? {
        try read("read the open round") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM round WHERE status IN ('collecting', 'aggregating', 'gating') ORDER BY number DESC LIMIT 1"
            ).map(Round.init(row:))
        }
    }

    /// The highest round number used so far.
    public func highestRoundNumber() throws(CoordinatorError) -> UInt64 {
        try read("read round numbers") { db in
            UInt64(clamping: try Int64.fetchOne(db, sql: "SELECT MAX(number) FROM round") ?? 0)
        }
    }

    // MARK: Round membership

    /// Invites to `round` the nodes heard from at or after `time` that
    /// `sampler` picks (offered in ascending id order, streamed: the fleet is
    /// never read into memory). Returns how many were invited.
    public func invite(round: UInt64, nodesSeenSince time: Double, sampler: inout ParticipantSampler) throws(CoordinatorError) -> Int {
        var picker = sampler
        defer { sampler = picker }
        return try write("invite nodes to round \(round)") { db in
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO participant (round, node) VALUES (?, ?)")
            let nodes = try String.fetchCursor(db, sql: "SELECT id FROM node WHERE lastSeen >= ? ORDER BY id", arguments: [time])
            var invited = 0
            while let node = try nodes.next() {
                guard picker.pickNext() else { continue }
                try insert.execute(arguments: [Int64(clamping: round), node])
                invited += 1
            }
            return invited
        }
    }

    public func isInvited(_ node: String, to round: UInt64) throws(CoordinatorError) -> Bool {
        try read("read the participants of round \(round)") { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM participant WHERE round = ? AND node = ?", arguments: [Int64(clamping: round), node]) ?? false
        }
    }

    /// The invited nodes of `round`, sorted.
    public func participants(of round: UInt64) throws(CoordinatorError) -> [String] {
        try read("read the participants of round \(round)") { db in
            try String.fetchAll(db, sql: "SELECT node FROM participant WHERE round = ? ORDER BY node", arguments: [Int64(clamping: round)])
        }
    }

    public func hasSent(_ node: String, in round: UInt64) throws(CoordinatorError) -> Bool {
        try read("read the updates of round \(round)") { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM acceptedUpdate WHERE round = ? AND node = ?", arguments: [Int64(clamping: round), node]) ?? false
        }
    }

    /// The invited nodes of `round` that sent an update or were heard from at
    /// or after `time`, and the oldest last-seen time among those heard from.
    public func reachableParticipants(of round: UInt64, aliveSince time: Double) throws(CoordinatorError) -> (count: Int, oldestAlive: Double?) {
        try read("count the reachable participants of round \(round)") { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*), MIN(CASE WHEN node.lastSeen >= ?1 THEN node.lastSeen END)
                FROM participant LEFT JOIN node ON node.id = participant.node
                WHERE participant.round = ?2 AND (node.lastSeen >= ?1 OR EXISTS (
                    SELECT 1 FROM acceptedUpdate WHERE acceptedUpdate.round = ?2 AND acceptedUpdate.node = participant.node))
                """, arguments: [time, Int64(clamping: round)])
            return (row?[0] ?? 0, row?[1])
        }
    }

    /// Counts the invited nodes of `round` as heard from at `time`.
    public func refreshParticipants(of round: UInt64, at time: Double) throws(CoordinatorError) {
        try write("refresh the participants of round \(round)") { db in
            try db.execute(
                sql: "UPDATE node SET lastSeen = MAX(lastSeen, ?) WHERE id IN (SELECT node FROM participant WHERE round = ?)",
                arguments: [time, Int64(clamping: round)]
            )
        }
    }

    /// The nodes whose updates `round` acknowledged, in arrival order.
    public func contributors(of round: UInt64) throws(CoordinatorError) -> [String] {
        try read("read the updates of round \(round)") { db in
            try String.fetchAll(db, sql: "SELECT node FROM acceptedUpdate WHERE round = ? ORDER BY receivedAt, node", arguments: [Int64(clamping: round)])
        }
    }

    /// Records an acknowledged update of `round` (its body already durable in the blob store).
    public func recordAcceptedUpdate(round: UInt64, node: String, blobHash: String, at time: Double) throws(CoordinatorError) {
        try write("record the update of \(node)") { db in
            try db.execute(
                sql: "INSERT INTO acceptedUpdate (round, node, blobHash, receivedAt) VALUES (?, ?, ?, ?)",
                arguments: [Int64(clamping: round), node, blobHash, time]
            )
        }
    }

    /// The updates `round` acknowledged, in arrival order.
    public func acceptedUpdates(round: UInt64) throws(CoordinatorError) -> [(node: String, blobHash: String)] {
        try read("read the updates of round \(round)") { db in
            try Row.fetchAll(db, sql: "SELECT node, blobHash FROM acceptedUpdate WHERE round = ? ORDER BY receivedAt, node", arguments: [Int64(clamping: round)])
                .map { ($0["node"], $0["blobHash"]) }
        }
    }

    /// Calls `body` with each update `round` acknowledged, in arrival order,
    /// reading them one at a time (a round of 10,000 updates is never in
    /// memory at once).
    public func forEachAcceptedUpdate(round: UInt64, _ body: (_ node: String, _ blobHash: String) -> Void) throws(CoordinatorError) {
        try read("read the updates of round \(round)") { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT node, blobHash FROM acceptedUpdate WHERE round = ? ORDER BY receivedAt, node", arguments: [Int64(clamping: round)]
            )
            while let row = try rows.next() { body(row[0], row[1]) }
        }
    }

    /// Forgets an update of `round` (one that could not be folded after all, or
    /// whose body is no longer readable after a restart).
    public func removeAcceptedUpdate(round: UInt64, node: String) throws(CoordinatorError) {
        try write("forget the update of \(node)") { db in
            try db.execute(sql: "DELETE FROM acceptedUpdate WHERE round = ? AND node = ?", arguments: [Int64(clamping: round), node])
        }
    }

    /// Every round that was collecting, aggregating or gating when the
    /// coordinator stopped, oldest first (asynchronous mode can have two).
    public func unfinishedRounds() throws(CoordinatorError) -> [Round] {
        try read("read the open rounds") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM round WHERE status IN ('collecting', 'aggregating', 'gating') ORDER BY number"
            ).map(Round.init(row:))
        }
    }

    /// Every blob hash a row refers to (versions and acknowledged updates).
    public func referencedBlobs() throws(CoordinatorError) -> Set<String> {
        try read("list referenced blobs") { db in
            Set(try String.fetchAll(db, sql: "SELECT contentHash FROM version UNION SELECT deltaHash FROM version WHERE deltaHash IS NOT NULL UNION SELECT blobHash FROM acceptedUpdate"))
        }
    }

    /// SQLite's own `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws(CoordinatorError) -> String {
        try read("check the database") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        }
    }

    // MARK: Audit trail

    /// One line of the audit trail.
    public struct AuditEntry: Sendable, Equatable, Codable {
        public var id: Int64
        public var time: Double
        public var kind: String
        public var subject: String
        public var detail: String
    }

    /// Appends to the audit trail: what happened (`kind`), to what (`subject`), and the details.
    public func audit(_ kind: String, subject: String, detail: String, at time: Double) throws(CoordinatorError) {
        try write("append to the audit trail") { db in
            try db.execute(
                sql: "INSERT INTO audit (time, kind, subject, detail) VALUES (?, ?, ?, ?)",
                arguments: [time, kind, subject, detail]
            )
        }
    }

    /// The newest `limit` audit entries, newest first.
    public func auditTrail(limit: Int = 100) throws(CoordinatorError) -> [AuditEntry] {
        try read("read the audit trail") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY id DESC LIMIT ?", arguments: [limit]).map {
                AuditEntry(id: $0["id"], time: $0["time"], kind: $0["kind"], subject: $0["subject"], detail: $0["detail"])
            }
        }
    }
}
