import Logging
import ServiceLifecycle

/// Runs `services` (one of them an HTTP server that yields its bound port
/// into `ports`) until `body`, given that port, returns or throws; then stops
/// them by a graceful shutdown — not by cancellation: cancelling a server
/// with an accepted connection still queued traps in NIO.
func serving(_ services: [any Service], ports: AsyncStream<Int>, logger: Logger, body: (Int) async throws -> Void) async throws {
    let group = ServiceGroup(configuration: .init(services: services, logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { return }
        do { try await body(port) } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
