import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import SecureTransport

extension NetworkTests {
/// Large transfers arrive byte-exact in both directions, with backpressure on both sides.
@Suite("Bulk transfer")
struct BulkTransferTests {
    let pki = TestPKI.shared

    @Test("100 MB client → server and 100 MB server → client, SHA-256 equal on both sides")
    func hundredMegabytesBothWays() async throws {
        let chunks = 100
        let total = chunks * BulkPattern.chunkSize
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let serverContext = try TLSContext(configuration: pki.serverConfiguration())
        let serverHash = group.next().makePromise(of: String.self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverContext), HashingEchoHandler(expected: total, done: serverHash),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()

        let clientContext = try TLSContext(configuration: pki.clientConfiguration(pki.node))
        let clientDone = group.next().makePromise(of: BulkSender.Result.self)
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: clientContext, serverHostname: "localhost"),
                        BulkSender(chunks: chunks, done: clientDone),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()

        let result = try await clientDone.futureResult.get()
        let receivedByServer = try await serverHash.futureResult.get()
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
        #expect(result.receivedBytes == total)
        #expect(result.sentHash == receivedByServer, "server received different bytes than were sent")
        #expect(result.sentHash == result.receivedHash, "the echo differs from what was sent")
    }
}
}

extension NetworkTests.BulkTransferTests {
    @Test("a writer that refills on writability and closes right after its last write delivers every byte, then close_notify")
    func closeAfterStreamingIsClean() async throws {
        let total = 8 << 20
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let serverContext = try TLSContext(configuration: pki.serverConfiguration())
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverContext), StreamThenClose(total: total),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let clientContext = try TLSContext(configuration: pki.clientConfiguration(pki.node))
        let done = group.next().makePromise(of: (Int, (any Error)?).self)
        _ = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: clientContext, serverHostname: "localhost"), ByteCounter(done: done),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let (received, error) = try await done.futureResult.get()
        try await server.close()
        try await group.shutdownGracefully()
        #expect(received == total)
        #expect(error == nil, "the stream must end with close_notify, not \(String(describing: error))")
    }
}

/// Streams `total` bytes in 256 KiB slices whenever writable, then closes at once.
final class StreamThenClose: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let total: Int
    private var sent = 0
    private var started = false

    init(total: Int) { self.total = total }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSEvent {
            started = true
            writeMore(context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if started { writeMore(context) }
    }

    private func writeMore(_ context: ChannelHandlerContext) {
        while context.channel.isWritable && sent < total {
            let length = min(256 << 10, total - sent)
            sent += length
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(repeating: UInt8(truncatingIfNeeded: sent >> 18), count: length)), promise: nil)
        }
        if sent == total && started {
            started = false
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Counts received bytes and reports them, with the first error, when the channel closes.
final class ByteCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<(Int, (any Error)?)>
    private var count = 0
    private var firstError: (any Error)?

    init(done: EventLoopPromise<(Int, (any Error)?)>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { count += unwrapInboundIn(data).readableBytes }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { if firstError == nil { firstError = error } }
    func channelInactive(context: ChannelHandlerContext) { done.succeed((count, firstError)) }
}

/// 1 MiB of seeded pseudo-random bytes; chunk i carries i in its first 8 bytes so reordering is caught.
enum BulkPattern {
    static let chunkSize = 1 << 20
    static let block: [UInt8] = BadPeer.garbage(seed: 0xF1EE7, count: chunkSize)

    static func chunk(_ index: Int) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: block)
        buffer.setInteger(UInt64(index), at: 0)
        return buffer
    }
}

/// Sends `chunks` chunks once the handshake completes, only while the channel is writable, and hashes both directions.
final class BulkSender: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    struct Result: Sendable { var sentHash: String; var receivedHash: String; var receivedBytes: Int }

    let chunks: Int
    let done: EventLoopPromise<Result>
    private var sent = 0
    private var received = 0
    private var started = false
    private let sentDigest = SHA256Digest()
    private let receivedDigest = SHA256Digest()
    private var sentHash: String?

    init(chunks: Int, done: EventLoopPromise<Result>) {
        self.chunks = chunks
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSEvent {
            started = true
            writeMore(context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if started { writeMore(context) }
    }

    private func writeMore(_ context: ChannelHandlerContext) {
        while context.channel.isWritable && sent < chunks {
            let chunk = BulkPattern.chunk(sent)
            chunk.withUnsafeReadableBytes { sentDigest.update($0) }
            sent += 1
            context.writeAndFlush(wrapOutboundOut(chunk), promise: nil)
        }
        if sent == chunks && sentHash == nil { sentHash = sentDigest.finalizeHex() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { receivedDigest.update($0) }
        received += buffer.readableBytes
        if received == chunks * BulkPattern.chunkSize {
            done.succeed(Result(sentHash: sentHash ?? "", receivedHash: receivedDigest.finalizeHex(), receivedBytes: received))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
    }
}

/// Echoes with backpressure and hashes what it received.
final class HashingEchoHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let expected: Int
    let done: EventLoopPromise<String>
    private let digest = SHA256Digest()
    private var received = 0
    private var readPending = false

    init(expected: Int, done: EventLoopPromise<String>) {
        self.expected = expected
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { digest.update($0) }
        received += buffer.readableBytes
        if received == expected { done.succeed(digest.finalizeHex()) }
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { readPending = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && readPending {
            readPending = false
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { done.fail(error) }
}
