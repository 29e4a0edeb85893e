import NIOCore
import NIOPosix
import Synchronization
@testable import SecureTransport

/// A TLS server on 127.0.0.1 with an ephemeral port, for one test.
///
/// Every connection gets our ``TLSHandler``, an ``ErrorRecorder`` that reports
/// the TLS errors the server raised, and the application handler the test asked for.
final class TestServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let errors: AsyncStream<TLSError>
    private let errorSink: AsyncStream<TLSError>.Continuation

    var port: Int { channel.localAddress!.port! }

    enum Application: Sendable {
        /// Replies `hello <node id>` to the first bytes and closes with close_notify.
        case greeting
        /// Echoes everything back, honouring writability.
        case echo
        /// Discards everything; replies with `Benchmark.sinkReply` never (benchmarks use their own).
        case discard
    }

    init(context: TLSContext, application: Application, threads: Int = 1) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let (errors, errorSink) = AsyncStream<TLSError>.makeStream()
        self.errors = errors
        self.errorSink = errorSink
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let app: any ChannelHandler = switch application {
                    case .greeting: GreetingHandler()
                    case .echo: EchoHandler()
                    case .discard: DiscardHandler()
                    }
                    let handlers: [any ChannelHandler] = [try TLSHandler(context: context), ErrorRecorder(sink: errorSink), app]
                    try channel.pipeline.syncOperations.addHandlers(handlers)
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    /// The next TLS error the server raised, or nil if none came within `seconds`.
    func nextError(within seconds: Int64 = 10) async -> TLSError? {
        await withTaskGroup(of: TLSError?.self) { group in
            group.addTask {
                for await error in self.errors { return error }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    func stop() async throws {
        try await channel.close()
        errorSink.finish()
        try await group.shutdownGracefully()
    }
}

/// Forwards TLS errors to the test.
final class ErrorRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let sink: AsyncStream<TLSError>.Continuation
    init(sink: AsyncStream<TLSError>.Continuation) { self.sink = sink }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError { sink.yield(error) }
        context.fireErrorCaught(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }
}

/// Replies `hello <node id>\n` to the first read, then closes (sending close_notify).
final class GreetingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var identity = "anonymous"
    private var replied = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let info)? = event as? TLSEvent {
            identity = info.peerIdentity?.nodeID ?? "anonymous"
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !replied else { return }
        replied = true
        let reply = ByteBuffer(string: "hello \(identity)\n")
        context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Echoes bytes back; stops reading while the channel is not writable.
final class EchoHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var readPending = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { readPending = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && readPending {
            readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Discards bytes.
final class DiscardHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Collects what a client receives and how its connection ended.
final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: EventLoopPromise<(String, (any Error)?)>
    let firstLine: EventLoopPromise<String>
    private var text = ""
    private var firstError: (any Error)?

    init(received: EventLoopPromise<(String, (any Error)?)>, firstLine: EventLoopPromise<String>) {
        self.received = received
        self.firstLine = firstLine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        text += String(buffer: unwrapInboundIn(data))
        if let newline = text.firstIndex(of: "\n") { firstLine.succeed(String(text[..<newline])) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if firstError == nil { firstError = error }
    }

    func channelInactive(context: ChannelHandlerContext) {
        received.succeed((text, firstError))
        firstLine.fail(firstError ?? ChannelError.eof)
        context.fireChannelInactive()
    }
}

/// Connects one client, with our TLS handler plus `extra` handlers above it.
enum TestClient {
    struct Connection {
        let channel: any Channel
        let handshake: EventLoopFuture<TLSConnectionInfo>
        let received: EventLoopFuture<(String, (any Error)?)>
        let firstLine: EventLoopFuture<String>
    }

    static func connect(
        group: any EventLoopGroup, port: Int, context: TLSContext, hostname: String = "localhost",
        below: (@Sendable () -> [any ChannelHandler])? = nil
    ) async throws -> Connection {
        let eventLoop = group.next()
        let handshake = eventLoop.makePromise(of: TLSConnectionInfo.self)
        let received = eventLoop.makePromise(of: (String, (any Error)?).self)
        let firstLine = eventLoop.makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let below { try sync.addHandlers(below()) }
                    try sync.addHandler(TLSHandler(context: context, serverHostname: hostname, handshakePromise: handshake))
                    try sync.addHandler(CollectingHandler(received: received, firstLine: firstLine))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return Connection(channel: channel, handshake: handshake.futureResult, received: received.futureResult, firstLine: firstLine.futureResult)
    }

    /// Opens a plain TCP connection, sends `bytes`, and closes.
    static func sendRaw(group: any EventLoopGroup, port: Int, bytes: [UInt8], closeAfter: Bool = true) async throws {
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DiscardHandler()) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try? await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        // The server may close first; either way, wait until the socket is gone.
        if closeAfter { try? await channel.close() }
        try await channel.closeFuture.get()
    }
}
