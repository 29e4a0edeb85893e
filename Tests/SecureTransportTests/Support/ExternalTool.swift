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
        let outBox = Mutex(Data()), errBox = Mutex(Data())
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            outBox.withLock { $0.append(data) }
        }
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            errBox.withLock { $0.append(data) }
        }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error); return }
            if !input.isEmpty { stdin.fileHandleForWriting.write(Data(input)) }
            try? stdin.fileHandleForWriting.close()
        }
        stdout.fileHandleForReading.readabilityHandler = nil
        stderr.fileHandleForReading.readabilityHandler = nil
        let restOut = (try? stdout.fileHandleForReading.readToEnd()) ?? nil
        let restErr = (try? stderr.fileHandleForReading.readToEnd()) ?? nil
        outBox.withLock { if let restOut { $0.append(restOut) } }
        errBox.withLock { if let restErr { $0.append(restErr) } }
        return Output(
            status: status,
            stdout: String(decoding: outBox.withLock { $0 }, as: UTF8.self),
            stderr: String(decoding: errBox.withLock { $0 }, as: UTF8.self)
        )
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
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty {
                    handle.readabilityHandler = nil
                    continuation.finish()
                    return
                }
                self.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
                continuation.yield(String(decoding: data, as: UTF8.self))
            }
            try process.run()
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
