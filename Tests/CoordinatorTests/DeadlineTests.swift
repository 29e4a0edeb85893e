import NIOCore
import NIOPosix
import Testing
@testable import Coordinator

@Suite("request deadlines")
struct DeadlineTests {
    @Test("a body that arrives in time is returned")
    func inTime() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let value = try await withDeadline(seconds: 30, on: loop) { 42 }
        #expect(value == 42)
    }

    @Test("a body that does not arrive in time is cut short with 408", .timeLimit(.minutes(1)))
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
}
