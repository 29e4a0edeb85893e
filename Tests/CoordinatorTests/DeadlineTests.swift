import NIOCore
import NIOPosix
import Testing
@testable import Coordinator

@Suite("request deadlines and waits on the event loop")
struct DeadlineTests {
    @Test("a body that arrives in time is returned")
    func inTime() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let value = try await withDeadline(seconds: 30, on: loop) { 42 }
        #expect(value == 42)
    }

    @Test("a body that does not arrive in time is cut short with 408", .timeLimit(.minutes(30)))
    func tooLate() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            _ = try await withDeadline(seconds: 0.05, on: loop) {
                try await Task.sleep(for: .seconds(3600))  // a client that never finishes its body
                return 0
            }
            Issue.record("the deadline did not cut the body short")
        } catch let error as CoordinatorError {
            #expect(error.code == .requestTimeout)
            #expect(error.message.contains("did not arrive"))
        }
    }

    @Test("a body's own error passes through unchanged")
    func bodyError() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        await #expect(throws: CoordinatorError(.payloadTooLarge, "too big")) {
            _ = try await withDeadline(seconds: 30, on: loop) { () async throws -> Int in
                throw CoordinatorError(.payloadTooLarge, "too big")
            }
        }
    }

    @Test("a wait ends when its timer fires")
    func waitEnds() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let clock = ContinuousClock()
        let start = clock.now
        try await sleep(seconds: 0.05, on: loop)
        #expect(clock.now - start >= .milliseconds(50))
    }

    @Test("a cancelled wait ends at once with CancellationError", .timeLimit(.minutes(30)))
    func cancelledWait() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let waiter = Task { try await sleep(seconds: 3600, on: loop) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        // Already cancelled before it starts: it does not wait either.
        await #expect(throws: CancellationError.self) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.cancelAll()
                group.addTask { try await sleep(seconds: 3600, on: loop) }
                try await group.waitForAll()
            }
        }
    }
}
