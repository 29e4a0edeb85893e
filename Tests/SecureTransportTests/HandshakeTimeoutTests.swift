import NIOCore
import NIOPosix
import Testing
@testable import SecureTransport

extension NetworkTests {
/// The server side of a connection that never speaks, over real sockets.
@Suite("Handshake timeout and the server's lazy TLS engine")
struct HandshakeTimeoutTests {
    let pki = TestPKI.shared

    @Test("a server connection that never sends a byte holds no OpenSSL engine and is closed at the handshake timeout")
    func silentConnectionTimesOut() async throws {
        let serverContext = try TLSContext(configuration: pki.serverConfiguration())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (errors, errorSink) = AsyncStream<TLSError>.makeStream()
        let accepted = group.next().makePromise(of: (channel: any Channel, handler: NIOLoopBound<TLSHandler>).self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try TLSHandler(context: serverContext, handshakeTimeout: .milliseconds(300))
                    try channel.pipeline.syncOperations.addHandlers([handler, ErrorRecorder(sink: errorSink)])
                    accepted.succeed((channel, NIOLoopBound(handler, eventLoop: channel.eventLoop)))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let (channel, handler) = try await accepted.futureResult.get()
        // The handler itself, not looked up in the pipeline: on a busy machine
        // the timeout may already have closed the channel and emptied it.
        let hasEngine = try await channel.eventLoop.submit { handler.value.hasEngine }.get()
        #expect(!hasEngine, "no SSL object before the client's first byte (the client never sends one)")

        var iterator = errors.makeAsyncIterator()
        let error = await iterator.next()
        #expect(error?.code == .handshakeTimeout)
        // The server closed the connection; the client sees it close.
        try await channel.closeFuture.get()
        try await client.closeFuture.get()
        try await server.close()
        errorSink.finish()
        try await group.shutdownGracefully()
    }

    @Test("a client that completes its handshake before the timeout keeps its connection past it")
    func completedHandshakeOutlivesTimeout() async throws {
        let serverContext = try TLSContext(configuration: pki.serverConfiguration())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (errors, errorSink) = AsyncStream<TLSError>.makeStream()
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        // The production default: a handshake on a loaded machine must never come near it.
                        TLSHandler(context: serverContext, handshakeTimeout: .seconds(10)), ErrorRecorder(sink: errorSink),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await TestClient.connect(
            group: group, port: server.localAddress!.port!, context: TLSContext(configuration: pki.clientConfiguration(pki.node))
        )
        _ = try await client.handshake.get()
        // Wait past the timeout on the event loop's own clock, then check the connection is still up.
        try await group.next().scheduleTask(in: .seconds(11)) {}.futureResult.get()
        #expect(client.channel.isActive)
        try await client.channel.close()
        try await server.close()
        errorSink.finish()
        var iterator = errors.makeAsyncIterator()
        while let error = await iterator.next() {
            #expect(error.code != .handshakeTimeout, "\(error)")
        }
        try await group.shutdownGracefully()
    }
}
}
