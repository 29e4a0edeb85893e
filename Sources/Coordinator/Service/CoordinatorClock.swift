import Foundation
public import NIOCore
import NIOPosix

/// Where the coordinator's service reads the time and waits.
///
/// Why injectable: rounds open, close and time out by the clock; tests move a
/// manual clock past a deadline instead of sleeping through it. Times are
/// seconds since 1970 (they are stored with rounds and survive a restart).
public protocol CoordinatorClock: Sendable {
    /// The current time in seconds.
    func now() -> Double
    /// Waits `seconds` (or until the task is cancelled).
    func sleep(seconds: Double) async throws
}

/// The wall clock; waits run on an event loop's timer (see ``sleep(seconds:on:)``).
public struct SystemCoordinatorClock: CoordinatorClock {
    private let eventLoop: any EventLoop

    /// Waits on a loop of NIO's shared event loop group.
    public init() {
        self.init(eventLoop: MultiThreadedEventLoopGroup.singleton.any())
    }

    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func now() -> Double { Date().timeIntervalSince1970 }

    public func sleep(seconds: Double) async throws {
        try await Coordinator.sleep(seconds: seconds, on: eventLoop)
    }
}
