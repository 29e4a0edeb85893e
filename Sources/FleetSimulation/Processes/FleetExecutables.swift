public import Foundation

/// The `fleet-coordinator` and `fleet-node` binaries a process fleet runs.
///
/// Why beside the running executable: `swift build` puts every product of
/// the package in one directory, so the binaries that belong to this
/// `fleet-sim` (same sources, same configuration) are its siblings.
public struct FleetExecutables: Sendable {
    public static let coordinatorName = "fleet-coordinator"
    public static let nodeName = "fleet-node"

    public let coordinator: URL
    public let node: URL

    /// The two binaries in `directory`.
    /// - Throws: ``SimulationError/Code/missingExecutable`` naming the binary that is missing and how to build it.
    public init(directory: URL) throws(SimulationError) {
        func find(_ name: String) throws(SimulationError) -> URL {
            let candidate = directory.appendingPathComponent(name)
            guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
                throw SimulationError(
                    .missingExecutable,
                    "\(name) is not built in \(directory.path); build it with the same configuration as fleet-sim, "
                        + "e.g. `swift build --product \(name)` (add `-c release` for a release fleet-sim), or `swift build` for every product",
                    context: ["executable": candidate.path])
            }
            return candidate
        }
        coordinator = try find(Self.coordinatorName)
        node = try find(Self.nodeName)
    }

    /// The binaries beside the executable of this process (symbolic links resolved).
    public static func besideRunningExecutable() throws(SimulationError) -> FleetExecutables {
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return try FleetExecutables(directory: executable.resolvingSymlinksInPath().deletingLastPathComponent())
    }
}
