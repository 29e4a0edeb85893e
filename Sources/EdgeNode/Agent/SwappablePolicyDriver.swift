import DrivingSimulator
import FleetEvaluation

/// A simulator ``Driver`` that always drives with the node's current policy.
///
/// Why: the sync loop swaps the policy while an episode is running. This
/// driver checks the live version at every decision and rebuilds its
/// ``PolicyDriver`` (and its inference workspace) only when the version
/// changed, so a new model takes the wheel at the next decision — the drive
/// loop never pauses for a swap.
struct SwappablePolicyDriver: Driver {
    let live: LivePolicy
    private var driver: PolicyDriver?
    /// The version the last decision was made with.
    private(set) var version: UInt64?
    /// Decisions made per version, to show that a swap took effect mid-drive.
    private(set) var decisionsByVersion: [UInt64: Int] = [:]

    init(live: LivePolicy) {
        self.live = live
    }

    var name: String { version.map { "policy-v\($0)" } ?? "policy" }

    mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        guard let snapshot = live.snapshot else { return .idle }
        if snapshot.version != version || driver == nil {
            driver = try? PolicyDriver(policy: snapshot.policy, name: "policy-v\(snapshot.version)")
            version = snapshot.version
        }
        decisionsByVersion[snapshot.version, default: 0] += 1
        return driver?.decide(observation, context: context) ?? .idle
    }
}
