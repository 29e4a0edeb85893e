import Foundation
import NIOPosix
import Synchronization

/// Reads newline-separated lines from a file descriptor (a file or stdin) without blocking the caller's thread.
///
/// Why a thread pool and a cancellation escape: reading stdin blocks until the
/// vehicle stack writes, possibly forever, and Swift's cooperative threads
/// must never block. Each read runs on NIO's blocking thread pool; if the
/// waiting task is cancelled (graceful shutdown) it returns at once and the
/// blocked read is left to finish or die with the process. Lines longer than
/// `maxLineBytes` are an error rather than unbounded memory.
final class LineReader: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        var finished = false
    }

    private let handle: FileHandle
    private let maxLineBytes: Int
    private let state = Mutex(State())

    init(handle: FileHandle, maxLineBytes: Int = 4 << 20) {
        self.handle = handle
        self.maxLineBytes = maxLineBytes
    }

    /// The next line without its newline; nil at the end of input.
    /// - Throws: ``AgentError/Code/invalidObservation`` for an over-long line, `CancellationError` when cancelled.
    func nextLine() async throws -> [UInt8]? {
        let gate = ResumeOnce<[UInt8]?>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                gate.set(continuation)
                NIOThreadPool.singleton.submit { _ in
                    gate.resume(with: Result { try self.readLineBlocking() })
                }
            }
        } onCancel: {
            gate.resume(with: .failure(CancellationError()))
        }
    }

    private func readLineBlocking() throws -> [UInt8]? {
        while true {
            let (line, needMore): ([UInt8]?, Bool) = try state.withLock { state in
                if let newline = state.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(state.buffer[..<newline])
                    state.buffer.removeSubrange(...newline)
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    return (line, false)
                }
                if state.buffer.count > maxLineBytes {
                    state.buffer.removeAll()
                    throw AgentError(.invalidObservation, "an observation line is longer than \(maxLineBytes) bytes")
                }
                if state.finished {
                    guard !state.buffer.isEmpty else { return (nil, false) }
                    defer { state.buffer.removeAll() }
                    return (state.buffer, false)
                }
                return (nil, true)
            }
            if !needMore { return line }
            let chunk = handle.availableData  // blocks until data or end of input
            state.withLock { state in
                if chunk.isEmpty { state.finished = true } else { state.buffer.append(contentsOf: chunk) }
            }
        }
    }
}

/// Resumes a continuation exactly once, whichever of the read or the cancellation comes first.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Value, any Error>?, early: Result<Value, any Error>?, done: Bool)>(
        (nil, nil, false))

    func set(_ continuation: CheckedContinuation<Value, any Error>) {
        let early: Result<Value, any Error>? = state.withLock { state in
            if let early = state.early {
                state.done = true
                return early
            }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func resume(with result: Result<Value, any Error>) {
        let continuation: CheckedContinuation<Value, any Error>? = state.withLock { state in
            guard !state.done else { return nil }
            guard let continuation = state.continuation else {
                if state.early == nil { state.early = result }
                return nil
            }
            state.done = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(with: result)
    }
}
