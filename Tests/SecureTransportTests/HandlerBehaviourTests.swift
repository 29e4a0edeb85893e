import NIOCore
import NIOPosix
import Testing
@testable import SecureTransport

extension NetworkTests {
/// Buffering, backpressure and version policy of the handler over real sockets.
@Suite("Handler behaviour")
struct HandlerBehaviourTests {
    let pki = TestPKI.shared

    @Test("writes made before the handshake completes arrive in order")
    func writesBeforeHandshakeInOrder() async throws {
        let server = try await TestServer(context: TLSContext(configuration: pki.serverConfiguration()), application: .echo)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = try TLSContext(configuration: pki.clientConfiguration(pki.node))
        let firstLine = group.next().makePromise(of: String.self)
        let received = group.next().makePromise(of: (String, (any Error)?).self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: context, serverHostname: "localhost"),
                        EarlyWriter(parts: ["one ", "two ", "three\n"]),
                        CollectingHandler(received: received, firstLine: firstLine),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: server.port).get()
        let client = (channel: channel, firstLine: firstLine.futureResult)
        #expect(try await client.firstLine.get() == "one two three")
        try await client.channel.close()
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test("a server application that stops reading stops the socket reads instead of buffering; close_notify then times out")
    func inboundBackpressure() async throws {
        let serverContext = try TLSContext(configuration: pki.serverConfiguration())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([TLSHandler(context: serverContext), DiscardHandler()])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var clientConfiguration = pki.clientConfiguration(pki.node)
        clientConfiguration.closeTimeout = .milliseconds(200)
        let clientContext = try TLSContext(configuration: clientConfiguration)
        let client = try await TestClient.connect(group: group, port: server.localAddress!.port!, context: clientContext)
        _ = try await client.handshake.get()
        let limit = 64 << 20
        // Write until the channel reports backpressure; a server that kept reading would absorb all 64 MiB.
        let written = try await client.channel.eventLoop.submit {
            var written = 0
            let chunk = ByteBuffer(repeating: 0x42, count: 1 << 20)
            while client.channel.isWritable && written < limit {
                client.channel.writeAndFlush(chunk, promise: nil)
                written += chunk.readableBytes
            }
            return written
        }.get()
        #expect(written < limit, "the client never became unwritable")
        // The server reads nothing, so it never answers our close_notify: the close timer ends the connection.
        try await client.channel.close()
        let (_, error) = try await client.received.get()
        #expect((error as? TLSError)?.code == .closeTimeout)
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test("TLS 1.2 works only when configured on both sides", arguments: [false, true])
    func tls12WhenConfigured(_ serverAllowsTLS12: Bool) async throws {
        var serverConfiguration = pki.serverConfiguration()
        if serverAllowsTLS12 { serverConfiguration.minimumProtocolVersion = .tls12 }
        let server = try await TestServer(context: TLSContext(configuration: serverConfiguration), application: .greeting)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var clientConfiguration = pki.clientConfiguration(pki.node)
        clientConfiguration.minimumProtocolVersion = .tls12
        clientConfiguration.maximumProtocolVersion = .tls12
        let client = try await TestClient.connect(group: group, port: server.port, context: TLSContext(configuration: clientConfiguration))
        client.channel.writeAndFlush(ByteBuffer(string: "ping\n"), promise: nil)
        let (text, _) = try await client.received.get()
        if serverAllowsTLS12 {
            #expect(try await client.handshake.get().protocolVersion == "TLSv1.2")
            #expect(text == "hello car-7\n")
        } else {
            #expect(text.isEmpty)
            #expect(await server.nextError()?.code == .handshakeFailed)
        }
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test("only X25519 and P-256 are offered for key exchange")
    func groups() async throws {
        guard let openssl = ExternalTool.find("openssl") else {
            print("skipped: the openssl binary is not installed"); return
        }
        let server = try await TestServer(context: TLSContext(configuration: pki.serverConfiguration()), application: .greeting)
        for (group, accepted) in [("X25519", true), ("P-256", true), ("X448", false)] {
            let output = try await ExternalTool.run(openssl, [
                "s_client", "-connect", "127.0.0.1:\(server.port)", "-groups", group, "-CAfile", pki.path("ca.pem"),
                "-cert", pki.path("node.pem"), "-key", pki.path("node.key"), "-ign_eof",
            ], input: Array("ping\n".utf8))
            #expect(output.stdout.contains("hello car-7") == accepted, "\(group): \(output.all)")
            if !accepted { #expect(await server.nextError()?.code == .handshakeFailed) }
        }
        try await server.stop()
    }
}
}

/// Writes its parts when the channel becomes active — before the server can have answered the ClientHello.
final class EarlyWriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let parts: [String]
    init(parts: [String]) { self.parts = parts }

    func channelActive(context: ChannelHandlerContext) {
        for part in parts { context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: part)), promise: nil) }
        context.fireChannelActive()
    }
}
