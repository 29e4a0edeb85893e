import NIOCore
import SecureTransport

/// Answers one `GET <path>` with `HTTP/1.0 200` and a fixed body, then closes —
/// what `openssl s_server -WWW` does, so `openssl s_time -www` can load both.
///
/// The body is written in 1 MiB slices only while the channel is writable, as a
/// real application must, so the benchmark measures the handler with backpressure on.
final class FileResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let slice = 1 << 20
    let body: ByteBuffer
    private var request = ""
    private var offset = 0
    private var responding = false

    init(body: ByteBuffer) { self.body = body }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !responding else { return }
        request += String(buffer: unwrapInboundIn(data))
        guard request.contains("\r\n\r\n") || request.contains("\n\n") else { return }
        responding = true
        context.write(wrapOutboundOut(ByteBuffer(string: "HTTP/1.0 200 ok\r\nContent-type: application/octet-stream\r\n\r\n")), promise: nil)
        writeMore(context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if responding { writeMore(context) }
        context.fireChannelWritabilityChanged()
    }

    private func writeMore(_ context: ChannelHandlerContext) {
        while context.channel.isWritable && offset < body.readableBytes {
            let length = min(Self.slice, body.readableBytes - offset)
            let slice = body.getSlice(at: body.readerIndex + offset, length: length)!
            offset += length
            context.writeAndFlush(wrapOutboundOut(slice), promise: nil)
        }
        if offset == body.readableBytes && responding {
            responding = false
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
