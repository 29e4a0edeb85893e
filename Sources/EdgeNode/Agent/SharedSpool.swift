public import DrivingSimulator
public import EdgeLearning
import Synchronization

/// The capture spool shared by the drive loop (which appends) and the sync loop (which learns and removes).
///
/// Why a lock: ``CaptureSpool`` keeps its next sequence number in memory, so
/// appends must not interleave. Learning works on a copy — it only reads
/// record files, which appear whole (written under a temporary name and
/// renamed) — and removal deletes files by sequence number, so neither needs
/// to hold the lock while it works.
public final class SharedSpool: Sendable {
    private let spool: Mutex<CaptureSpool<Capture>>

    public init(_ spool: CaptureSpool<Capture>) {
        self.spool = Mutex(spool)
    }

    /// Stores a capture durably.
    @discardableResult
    public func append(_ capture: Capture) throws(SpoolError) -> UInt64 {
        try spool.withLock { spool throws(SpoolError) in try spool.append(capture) }
    }

    /// A copy to learn from.
    public var snapshot: CaptureSpool<Capture> { spool.withLock { $0 } }

    /// Captures waiting.
    public var count: Int { snapshot.count }

    /// Removes captures whose lesson was delivered.
    public func remove(_ sequences: [UInt64]) {
        snapshot.remove(sequences)
    }
}
