import Foundation
import Synchronization

/// One real `fleet-coordinator` or `fleet-node` process started by the end-to-end test.
///
/// Why a log file and not a pipe: three nodes and a coordinator log for minutes,
/// and a pipe nobody drains fills up and blocks the writer. The file is read
/// back whenever the test looks for a line. Its exit is awaited through the
/// termination handler, so no thread blocks in `waitUntilExit`.
final class FleetProcess: Sendable {
    let name: String
    let logFile: URL
    private let process: Process
    private let exit = ExitBox()

    /// The directory holding the test bundle's build products (where `swift build` puts the executables).
    static func productsDirectories() -> [URL] {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL)
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        return candidates.flatMap { [$0, $0.deletingLastPathComponent()] }
    }

    /// The built executable `name` beside the test bundle, or nil when it was not built.
    static func executable(_ name: String) -> String? {
        for directory in productsDirectories() {
            let path = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Starts `executable arguments` in `directory`, its standard output and error going to `logFile`.
    init(name: String, executable: String, arguments: [String], directory: URL, logFile: URL) throws {
        self.name = name
        self.logFile = logFile
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let handle = try FileHandle(forWritingTo: logFile)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        let exit = self.exit
        process.terminationHandler = { exit.finish($0.terminationStatus) }
        self.process = process
        try process.run()
    }

    /// Everything the process wrote so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    var isRunning: Bool { process.isRunning }
    var identifier: Int32 { process.processIdentifier }

    /// Sends `signal` (if the process still runs) and waits for it to end; returns its exit status.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return await exit.status()
    }

    /// Waits for the process to end by itself; returns its exit status.
    func exited() async -> Int32 { await exit.status() }
}

/// The exit status once the process has ended, and whoever waits for it.
final class ExitBox: Sendable {
    private struct State {
        var status: Int32?
        var waiting: [CheckedContinuation<Int32, Never>] = []
    }
    private let state = Mutex(State())

    func finish(_ status: Int32) {
        let waiting = state.withLock { state in
            state.status = status
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume(returning: status) }
    }

    func status() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done: Int32? = state.withLock { state in
                if let status = state.status { return status }
                state.waiting.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

/// The processes started so far, for the final clean-up.
final class ProcessList: Sendable {
    private let list = Mutex<[FleetProcess]>([])
    func append(_ process: FleetProcess) { list.withLock { $0.append(process) } }
    var all: [FleetProcess] { list.withLock { $0 } }
}
