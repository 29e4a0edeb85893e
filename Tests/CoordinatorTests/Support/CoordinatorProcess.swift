import Foundation
import Synchronization

/// A real `fleet-coordinator serve` process, for the crash test.
final class CoordinatorProcess: Sendable {
    private let process: Process
    private let output = OutputBox()
    private let lines: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    /// The built executable beside the test bundle, or nil when it was not built.
    static func executable() -> String? {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL)
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in candidates {
            for candidate in [directory, directory.deletingLastPathComponent()] {
                let path = candidate.appendingPathComponent("fleet-coordinator").path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }

    init(executable: String, arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        (lines, continuation) = AsyncStream.makeStream()
        self.process = process
        let continuation = self.continuation
        let output = self.output
        try process.run()
        // A thread of its own blocks in read(2): a `readabilityHandler`'s dispatch source can
        // outlive the descriptor it watches and crash the test process in libdispatch.
        let reading = pipe.fileHandleForReading
        Thread.detachNewThread {
            while true {
                let data = reading.availableData
                if data.isEmpty { break }
                output.append(String(decoding: data, as: UTF8.self))
                continuation.yield()
            }
            continuation.finish()
        }
    }

    var text: String { output.text }

    /// The process id (for `/proc/<pid>/…`).
    var pid: Int32 { process.processIdentifier }

    /// The port from the "listening on" line, once it is printed; nil if the process ended first.
    func port() async -> Int? {
        func parse() -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("fleet-coordinator listening on ") }),
                  let port = line.split(separator: ":").last.flatMap({ Int($0) }) else { return nil }
            return port
        }
        if let port = parse() { return port }
        for await _ in lines {
            if let port = parse() { return port }
        }
        return parse()
    }

    /// Sends `signal` and waits for the process to end.
    func stop(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
    }

    var terminationStatus: Int32 { process.terminationStatus }
}

/// The process's output so far, shared with the pipe's reader.
final class OutputBox: Sendable {
    private let value = Mutex("")
    func append(_ text: String) { value.withLock { $0 += text } }
    var text: String { value.withLock { $0 } }
}
