import FleetWire
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Turns every refusal into the API's error body, `{"error": code, "message": text}`,
/// with the status the code maps to.
///
/// Why one middleware: routes throw ``CoordinatorError`` (or Hummingbird's
/// own errors, e.g. a body past its bound); nodes and curl users always get
/// the same JSON shape, and a 409 names the round that is open now so a
/// late node can catch up without another request.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = CoordinatorRequestContext
    let service: CoordinatorService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as CoordinatorError {
            var currentRound: UInt64?
            if error.code.status == 409 { currentRound = await service.status().round.flatMap { $0.phase == "collecting" ? $0.number : nil } }
            if error.code.status >= 500 {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error.message)"])
            }
            return Self.response(status: error.code.status, code: error.code.name, message: error.message, currentRound: currentRound)
        } catch is NIOTooManyBytesError {
            return Self.response(status: 413, code: CoordinatorError.Code.payloadTooLarge.name, message: "the body is larger than this route accepts")
        } catch let error as HTTPError {
            let status = Int(error.status.code)
            return Self.response(
                status: status, code: status == 404 ? "not_found" : "http_\(status)",
                message: error.body ?? error.status.reasonPhrase
            )
        } catch let error as any HTTPResponseError {
            let status = Int(error.status.code)
            return Self.response(status: status, code: status == 404 ? "not_found" : "http_\(status)", message: error.status.reasonPhrase)
        } catch is DecodingError {
            return Self.response(status: 400, code: CoordinatorError.Code.invalidRequest.name, message: "the JSON body does not match the API schema")
        }
    }

    static func response(status: Int, code: String, message: String, currentRound: UInt64? = nil) -> Response {
        let body = API.ErrorBody(error: code, message: message, currentRound: currentRound)
        let bytes = (try? JSONEncoder().encode(body)) ?? Data(#"{"error":"internal","message":"unencodable error"}"#.utf8)
        return Response(
            status: .init(code: status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}
