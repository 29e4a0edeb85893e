import Dispatch
import Foundation
import Synchronization

/// One real `fleet-coordinator` or `fleet-node` process of a process fleet.
///
/// Why a log file and not a pipe for what it writes: a fleet logs for
/// minutes, and a pipe nobody drains fills up and blocks the writer. Only a
/// process whose standard output must be read (the coordinator prints its
/// port there) gets a pipe, and a thread of its own drains that pipe into the
/// same log file as it reads it. The exit is awaited through the termination
/// handler, so no thread blocks in `waitUntilExit`, and every wait works in a
/// cancelled task too: stopping the fleet after an interrupt must still wait
/// out the grace period.
final class ChildProcess: Sendable {
    let name: String
    let logFile: URL
    let identifier: Int32
    private let process: Process
    private let exit = ExitWatch()
    private let output: OutputLines?

    /// Starts `executable arguments` in `directory`; standard output and error are appended to
    /// `logFile`. With `readOutput`, lines of standard output can also be awaited (``firstLine(startingWith:within:)``).
    init(name: String, executable: URL, arguments: [String], directory: URL, logFile: URL, readOutput: Bool = false) throws(SimulationError) {
        self.name = name
        self.logFile = logFile
        let descriptor = open(logFile.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SimulationError(.storage, "cannot open the log file of \(name): \(String(cString: strerror(errno)))", context: ["log": logFile.path])
        }
        // Appending, so the child's standard error and the drained standard output interleave without overwriting.
        let log = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardError = log
        var pipe: Pipe?
        if readOutput {
            pipe = Pipe()
            process.standardOutput = pipe
            output = OutputLines(log: log)
        } else {
            process.standardOutput = log
            output = nil
        }
        let exit = self.exit
        process.terminationHandler = { exit.finish(.init(status: $0.terminationStatus, bySignal: $0.terminationReason == .uncaughtSignal)) }
        do {
            try process.run()
        } catch {
            throw SimulationError(
                .processFailed, "cannot start \(name) (\(executable.path)): \(error)", context: ["executable": executable.path])
        }
        self.process = process
        identifier = process.processIdentifier
        if let pipe, let output {
            // A thread of its own blocks in read(2) until the child closes its output. Not a
            // `readabilityHandler`: its dispatch source can outlive the descriptor it watches
            // (the handle closes it on release), and a reused descriptor then crashes the
            // process in libdispatch's event loop.
            let reading = pipe.fileHandleForReading
            Thread.detachNewThread {
                while true {
                    let data = reading.availableData
                    if data.isEmpty { break }
                    output.append(data)
                }
                output.finish()
            }
        }
    }

    /// Nil while it runs; how it ended once it has.
    var termination: Termination? { exit.termination }

    /// The first line of standard output that starts with `prefix`; nil when the process closes
    /// its output first or `limit` passes.
    func firstLine(startingWith prefix: String, within limit: Duration) async -> String? {
        guard let output else { return nil }
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await line in output.lines where line.hasPrefix(prefix) { return line }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Waits for the process to end by itself, at most `limit` (forever when nil).
    func waitForExit(upTo limit: Duration? = nil) async -> Termination? {
        await exit.wait(upTo: limit)
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`; returns how it ended.
    func stop(grace: Duration) async -> ProcessExit {
        if let ended = exit.termination { return ProcessExit(name: name, pid: identifier, termination: ended, forced: false) }
        kill(identifier, SIGTERM)
        if let ended = await exit.wait(upTo: grace) {
            return ProcessExit(name: name, pid: identifier, termination: ended, forced: false)
        }
        kill(identifier, SIGKILL)
        let ended = await exit.wait(upTo: nil) ?? Termination(status: SIGKILL, bySignal: true)
        return ProcessExit(name: name, pid: identifier, termination: ended, forced: true)
    }

    /// The last `count` lines of the log, for an error message.
    func logTail(_ count: Int = 12) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
    }

    /// How a process ended: its exit status, or the signal that ended it.
    struct Termination: Sendable, Equatable {
        var status: Int32
        var bySignal: Bool
    }
}

/// How one process of the fleet ended when the fleet was stopped.
public struct ProcessExit: Sendable, Codable, Equatable {
    /// `coordinator` or the node's id.
    public var name: String
    public var pid: Int32
    /// The exit status, or the signal number when ``bySignal``.
    public var status: Int32
    public var bySignal: Bool
    /// It ignored SIGTERM for the whole grace period and was killed.
    public var forced: Bool

    init(name: String, pid: Int32, termination: ChildProcess.Termination, forced: Bool) {
        self.name = name
        self.pid = pid
        status = termination.status
        bySignal = termination.bySignal
        self.forced = forced
    }

    /// Stopped by SIGTERM as intended: exit status 0, not killed.
    public var isGraceful: Bool { status == 0 && !bySignal && !forced }
}

/// The termination of a process, and whoever waits for it (each wait with its own limit).
private final class ExitWatch: Sendable {
    private struct State {
        var termination: ChildProcess.Termination?
        var waiting: [UInt64: CheckedContinuation<ChildProcess.Termination?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let state = Mutex(State())

    var termination: ChildProcess.Termination? { state.withLock { $0.termination } }

    func finish(_ termination: ChildProcess.Termination) {
        let waiting = state.withLock { state in
            state.termination = termination
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: termination) }
    }

    /// The termination, or nil if the process still runs after `limit` (nil: no limit).
    ///
    /// The limit is a dispatch timer, not `Task.sleep`, so that it holds in a cancelled task.
    func wait(upTo limit: Duration?) async -> ChildProcess.Termination? {
        await withCheckedContinuation { continuation in
            enum Registration { case ended(ChildProcess.Termination), waiting(UInt64) }
            let registration: Registration = state.withLock { state in
                if let termination = state.termination { return .ended(termination) }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiting[id] = continuation
                return .waiting(id)
            }
            switch registration {
            case .ended(let termination):
                continuation.resume(returning: termination)
            case .waiting(let id):
                guard let limit else { return }
                let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
                    state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: nil)
                }
            }
        }
    }
}

/// A child's standard output: appended to its log and split into lines that can be awaited.
private final class OutputLines: Sendable {
    let lines: AsyncStream<String>
    private let sink: AsyncStream<String>.Continuation
    private let log: FileHandle
    private let partial = Mutex<[UInt8]>([])

    init(log: FileHandle) {
        self.log = log
        (lines, sink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    func append(_ data: Data) {
        log.write(data)
        let complete: [String] = partial.withLock { buffer in
            buffer.append(contentsOf: data)
            guard let last = buffer.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
            let text = String(decoding: buffer[...last], as: UTF8.self)
            buffer.removeSubrange(...last)
            return text.split(separator: "\n").map(String.init)
        }
        for line in complete { sink.yield(line) }
    }

    func finish() {
        let rest = partial.withLock { buffer in
            defer { buffer = [] }
            return String(decoding: buffer, as: UTF8.self)
        }
        if !rest.isEmpty { sink.yield(rest) }
        sink.finish()
    }
}
