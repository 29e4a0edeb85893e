import Testing
@testable import Coordinator

@Suite("round signal (long-poll wake-ups)")
struct RoundSignalTests {
    @Test("a signal sent between reading the state and starting to wait is not lost")
    func noLostWakeUp() async {
        let signal = RoundSignal()
        let seen = signal.generation
        signal.signal()  // a round opens while the request is still on its way to wait
        await signal.wait(after: seen)  // returns at once instead of sleeping to its timeout
        #expect(signal.generation == seen + 1)
    }

    @Test("waiters wake on the next signal; after close every wait returns at once")
    func wakeAndClose() async {
        let signal = RoundSignal()
        let seen = signal.generation
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait(after: seen) }
            group.addTask { await signal.wait(after: seen) }
            signal.signal()
            await group.waitForAll()
        }
        signal.close()
        await signal.wait(after: signal.generation)
        #expect(signal.isClosed)
    }

    @Test("a cancelled waiter leaves at once")
    func cancellation() async {
        let signal = RoundSignal()
        let waiter = Task { await signal.wait(after: signal.generation) }
        waiter.cancel()
        await waiter.value
        #expect(waiter.isCancelled)
    }
}
