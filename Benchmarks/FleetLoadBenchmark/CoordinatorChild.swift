import Foundation
import Synchronization

/// A real `fleet-coordinator serve` process, and its memory as the kernel counts it.
///
/// Why a separate process: the coordinator's peak memory must be measured
/// apart from the 1,000 simulated nodes (their TLS contexts, certificates
/// and bodies live in the benchmark's own process). `/proc/<pid>/status`
/// gives the child's resident set now (`VmRSS`) and its high-water mark
/// since it started (`VmHWM`).
final class CoordinatorChild: Sendable {
    private let process: Process
    private let output = TextBox()
    private let (lines, continuation) = AsyncStream<Void>.makeStream()

    init(executable: String, arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        self.process = process
        let continuation = self.continuation
        let output = self.output
        let reading = pipe.fileHandleForReading
        // A thread that blocks in read() until the child closes its end: no
        // dispatch source on the pipe, whose teardown raced with the file
        // handle's close at the end of a run and crashed the benchmark.
        Thread.detachNewThread {
            while true {
                let data = reading.availableData
                if data.isEmpty { break }
                output.append(String(decoding: data, as: UTF8.self))
                continuation.yield()
            }
            continuation.finish()
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var text: String { output.text }

    /// The port of the "listening on" line; nil if the process ended first.
    func port() async -> Int? {
        func parse() -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix("fleet-coordinator listening on ") }
                .flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }
        }
        if let port = parse() { return port }
        for await _ in lines {
            if let port = parse() { return port }
        }
        return parse()
    }

    /// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`); 0 when unreadable.
    func memory(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }

    /// SIGTERM (a graceful shutdown), then waits for the process to end.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }
}

/// Samples a process's resident set every few milliseconds while a phase runs.
final class MemorySampler: Sendable {
    private let peak = Mutex(0)

    /// Runs `body` while sampling `read()` every `interval` in a child task; returns body's result.
    func sample<T: Sendable>(
        every interval: Duration = .milliseconds(10), _ read: @escaping @Sendable () -> Int,
        during body: () async throws -> T
    ) async throws -> T {
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    self.record(read())
                    try? await Task.sleep(for: interval)
                }
            }
            defer { group.cancelAll() }
            let result = try await body()
            record(read())
            return result
        }
    }

    private func record(_ value: Int) { peak.withLock { $0 = max($0, value) } }

    var maximum: Int { peak.withLock { $0 } }
}

/// Text appended from the pipe's reader thread.
final class TextBox: Sendable {
    private let value = Mutex("")
    func append(_ text: String) { value.withLock { $0 += text } }
    var text: String { value.withLock { $0 } }
}
