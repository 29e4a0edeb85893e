import NIOCore
import NIOHTTP1
import SecureTransport

/// One HTTP/1.1 request and its complete, size-bounded response, on a channel
/// that carries one exchange at a time.
///
/// Why a handler of its own: the node needs whole responses (a JSON body or a
/// checkpoint) and a hard cap on what a coordinator — or anything pretending
/// to be one — can make it buffer. The cap is checked against
/// `Content-Length` as soon as the head arrives and against the bytes
/// actually received after that, so an oversized answer is refused without
/// being read. The connection is kept for the next exchange when both sides
/// allow keep-alive; it is closed after a refusal of this kind, a timeout or
/// an error, because its framing can no longer be trusted.
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPExchange
    typealias OutboundOut = HTTPClientRequestPart

    private struct Pending {
        let promise: EventLoopPromise<HTTPResponse>
        let maxBodyBytes: Int
        var head: HTTPResponseHead?
        var body: ByteBuffer?
    }

    private var pending: Pending?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(ConnectionError(.connectionClosed, "the connection was torn down during the request"))
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            let error = ConnectionError(.invalidConfiguration, "a second request was written before the first was answered")
            exchange.response.fail(error)
            promise?.fail(error)
            return
        }
        pending = Pending(promise: exchange.response, maxBodyBytes: exchange.maxResponseBytes)
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var current = pending else { return }  // nothing asked: ignore
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > current.maxBodyBytes {
                abort(context, ConnectionError(
                    .responseTooLarge, "the answer declares \(declared) bytes, more than the limit of \(current.maxBodyBytes)",
                    status: Int(head.status.code)))
                return
            }
            current.head = head
            pending = current
        case .body(var chunk):
            let received = (current.body?.readableBytes ?? 0) + chunk.readableBytes
            guard received <= current.maxBodyBytes else {
                abort(context, ConnectionError(
                    .responseTooLarge, "the answer grew past the limit of \(current.maxBodyBytes) bytes",
                    status: current.head.map { Int($0.status.code) }))
                return
            }
            if current.body == nil {
                current.body = chunk
            } else {
                current.body!.writeBuffer(&chunk)
            }
            pending = current
        case .end:
            pending = nil
            guard let head = current.head else {
                current.promise.fail(ConnectionError(.invalidResponse, "the answer ended before its head"))
                context.close(promise: nil)
                return
            }
            current.promise.succeed(HTTPResponse(head: head, body: current.body ?? ByteBuffer()))
            if !head.isKeepAlive { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ConnectionError(.connectionClosed, "the coordinator closed the connection before answering completely"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tls = error as? TLSError, tls.code == .uncleanShutdown {
            // The socket closed without close_notify: the connection was dropped (the framing of HTTP,
            // not TLS, tells a cut answer), so it is a closed connection like any other.
            abort(context, ConnectionError(.connectionClosed, "the coordinator dropped the connection before answering completely: \(tls)"))
        } else if let tls = error as? TLSError {
            abort(context, ConnectionError(.tlsFailed, "TLS failed: \(tls)"))
        } else {
            abort(context, ConnectionError(.connectionClosed, "the connection failed: \(error)"))
        }
    }

    /// The exchange ran out of time: fail it and close the connection.
    func timeOut(after seconds: Double) {
        guard pending != nil, let context else { return }
        abort(context, ConnectionError(.timedOut, "no complete answer within \(seconds) s"))
    }

    private func abort(_ context: ChannelHandlerContext, _ error: ConnectionError) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: ConnectionError) {
        guard let current = pending else { return }
        pending = nil
        current.promise.fail(error)
    }
}

/// What is written into the channel: the request and where its answer goes.
struct HTTPExchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var maxResponseBytes: Int
    var response: EventLoopPromise<HTTPResponse>
}

/// A complete answer.
struct HTTPResponse: Sendable {
    var head: HTTPResponseHead
    var body: ByteBuffer

    var status: Int { Int(head.status.code) }
    var bytes: [UInt8] { Array(body.readableBytesView) }
}
