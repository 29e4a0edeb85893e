public import PolicyNetwork
import Synchronization

/// The policy the node drives with right now, swappable while it drives.
///
/// Why a lock around a value: the drive loop reads the policy at every
/// decision and the sync loop replaces it when a verified version arrives.
/// `MoEPolicy` is a value, so a reader holds a consistent copy for as long as
/// it likes (copy-on-write: no weights are copied) and the swap is one
/// assignment under the lock — the drive loop never stops and never sees half
/// a model.
public final class LivePolicy: Sendable {
    /// A policy and the version it came from (0: a local bootstrap policy no coordinator signed).
    public struct Snapshot: Sendable {
        public let version: UInt64
        public let policy: MoEPolicy
    }

    private let state: Mutex<Snapshot?>

    /// Starts with `initial`, or with nothing to drive until a model is installed.
    public init(_ initial: Snapshot? = nil) {
        state = Mutex(initial)
    }

    /// The current policy, if any.
    public var snapshot: Snapshot? { state.withLock { $0 } }

    /// The current version, if any.
    public var version: UInt64? { state.withLock { $0?.version } }

    /// Makes `policy` current for every decision from now on.
    public func install(version: UInt64, policy: MoEPolicy) {
        state.withLock { $0 = Snapshot(version: version, policy: policy) }
    }
}
