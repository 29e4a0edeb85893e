import Foundation
import Synchronization

/// Runs a command-line peer (`openssl`, `curl`) and collects its output.
enum ExternalTool {
    /// The absolute path of `name` on PATH, or nil when it is not installed.
    static func find(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in paths {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var all: String { stdout + "\n" + stderr }
    }

    /// Runs `tool` with `arguments`, writes `input` to its stdin and closes it.
    static func run(_ tool: String, _ arguments: [String], input: [UInt8] = [], currentDirectory: String? = nil) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let (exit, exited) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        process.terminationHandler = { process in
            exited.yield(process.terminationStatus)
            exited.finish()
        }
        try process.run()
        async let out = readToEnd(stdout.fileHandleForReading)
        async let err = readToEnd(stderr.fileHandleForReading)
        if !input.isEmpty { stdin.fileHandleForWriting.write(Data(input)) }
        try? stdin.fileHandleForWriting.close()
        var status: Int32 = -1
        for await code in exit { status = code }
        return Output(status: status, stdout: String(decoding: await out, as: UTF8.self), stderr: String(decoding: await err, as: UTF8.self))
    }

    /// Everything until end of file, read on a thread of its own. Not a
    /// `readabilityHandler`: its dispatch source can outlive the descriptor it
    /// watches, and a reused descriptor then crashes the test process.
    static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: (try? handle.readToEnd()) ?? Data()) }
        }
    }

    /// Calls `chunk` with each read of `handle` and `end` at end of file, on a thread of its own.
    static func drain(_ handle: FileHandle, chunk: @escaping @Sendable (Data) -> Void, end: @escaping @Sendable () -> Void) {
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                chunk(data)
            }
            end()
        }
    }

    /// A long-running peer (e.g. `openssl s_server`) whose output can be awaited.
    final class Background: Sendable {
        private let process: Process
        private let output = Mutex("")
        private let lines: AsyncStream<String>
        private let continuation: AsyncStream<String>.Continuation

        init(_ tool: String, _ arguments: [String], currentDirectory: String? = nil) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            process.standardInput = Pipe()
            (lines, continuation) = AsyncStream.makeStream()
            self.process = process
            let continuation = self.continuation
            try process.run()
            ExternalTool.drain(pipe.fileHandleForReading, chunk: { [self] data in
                self.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
                continuation.yield(String(decoding: data, as: UTF8.self))
            }, end: { continuation.finish() })
        }

        /// Waits until the output so far contains `text`; false if the process ended first.
        func waitFor(_ text: String) async -> Bool {
            if output.withLock({ $0.contains(text) }) { return true }
            for await _ in lines where output.withLock({ $0.contains(text) }) { return true }
            return output.withLock { $0.contains(text) }
        }

        var text: String { output.withLock { $0 } }

        func stop() {
            // s_server ignores SIGTERM while it waits in accept(); SIGKILL it.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }
}
