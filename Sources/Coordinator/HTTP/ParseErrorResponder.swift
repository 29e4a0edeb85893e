import FleetWire
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request the HTTP parser refuses with the API's JSON error body.
///
/// Why: a malformed request line or header never reaches the router, so the
/// ``JSONErrorMiddleware`` cannot answer it; Hummingbird alone would send a
/// bare `400` with no body. Placed after the HTTP codec, this handler sees the
/// parser's error first, writes `400 {"error":"invalid_request",…}` naming
/// what the parser refused, and closes the connection (the byte stream can
/// no longer be trusted to find the next request).
final class ParseErrorResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        let body = API.ErrorBody(
            error: CoordinatorError.Code.invalidRequest.name,
            message: "the request is not valid HTTP/1.1: \(Self.describe(parserError))",
            currentRound: nil
        )
        let bytes = (try? JSONEncoder().encode(body)) ?? Data(#"{"error":"invalid_request","message":"the request is not valid HTTP/1.1"}"#.utf8)
        var head = HTTPResponse(status: .badRequest)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(bytes.count)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: bytes))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// What the parser refused, in words.
    static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidMethod: "the method is not a valid token"
        case .invalidURL: "the request target is not a valid URL"
        case .invalidHeaderToken: "a header name is not a valid token"
        case .invalidVersion: "the HTTP version is not valid"
        case .headerOverflow: "the request head is too large"
        case .invalidContentLength: "Content-Length is not a valid number"
        case .unexpectedContentLength: "Content-Length is not allowed here"
        case .invalidChunkSize: "a chunk size is not valid"
        case .invalidConstant: "the request is malformed"
        case .lfExpected: "a line feed was expected"
        case .invalidCharactersUsed: "the request contains characters HTTP does not allow"
        case .invalidStatus: "the status is not valid"
        default: "\(error)"
        }
    }
}
