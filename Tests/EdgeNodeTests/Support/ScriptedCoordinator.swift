import Foundation
import NIOCore
import NIOPosix
@testable import SecureTransport

/// A coordinator double that drops connections when a test says so, behind
/// the fleet's mutual TLS on 127.0.0.1.
///
/// Why not ``FakeCoordinator``: Hummingbird keeps a connection open as long as
/// the client wants it; the failures under test are the coordinator closing a
/// connection at a chosen moment — right after the handshake, right after an
/// answer, or on the arrival of a request it will never answer (an idle
/// timeout striking as the node reuses the connection). Each moment is an
/// event of the connection, never a delay, so the tests do not depend on the
/// machine's speed. HTTP/1.1 is spoken by hand: one request at a time,
/// `Content-Length` bodies, JSON answers.
final class ScriptedCoordinator: Sendable {
    /// What the coordinator does on one connection, by the order connections arrive.
    enum Script: Sendable {
        /// Closes the connection as soon as the TLS handshake completes, before reading a byte.
        case closeAfterHandshake
        /// Answers `count` requests (keep-alive), then closes right after the last answer.
        case answerThenClose(Int)
        /// Answers `count` requests (keep-alive), then reads the next request whole and closes without answering.
        case answerThenDropNext(Int)
        /// Answers every request.
        case answerAll
    }

    /// One request as received.
    struct Request: Sendable, Equatable {
        var connection: Int
        var method: String
        var path: String
        var body: [UInt8]
        /// Whether it was answered (false: the connection was closed on it).
        var answered: Bool
    }

    /// The status and JSON body for a request, given the requests received before it.
    typealias Answer = @Sendable (_ request: Request, _ earlier: [Request]) -> (status: Int, json: String)

    let port: Int
    private let server: any Channel
    private let log: Log

    /// Listens on a free port of 127.0.0.1; connection `i` follows `scripts[i]`, later ones `otherwise`.
    init(
        fleet: TestFleet = .shared, scripts: [Script], otherwise: Script = .answerAll,
        answer: @escaping Answer = { _, _ in (200, #"{"current_version":0,"open_round":null,"heartbeat_interval":0.5}"#) }
    ) async throws {
        let context = try TLSContext(configuration: fleet.serverConfiguration())
        let log = Log()
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = log.connectionOpened()
                    let script = number < scripts.count ? scripts[number] : otherwise
                    let handshake = channel.eventLoop.makePromise(of: TLSConnectionInfo.self)
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context, handshakePromise: handshake))
                    if case .closeAfterHandshake = script {
                        handshake.futureResult.whenSuccess { _ in channel.close(promise: nil) }
                    } else {
                        try channel.pipeline.syncOperations.addHandler(
                            ScriptedConnection(number: number, script: script, log: log, answer: answer))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = server.localAddress?.port ?? 0
        self.log = log
    }

    /// The connections accepted so far.
    var connections: Int { log.snapshot.connections }
    /// The requests received so far, in order.
    var requests: [Request] { log.snapshot.requests }

    func stop() async {
        try? await server.close()
    }

    /// What the server saw, shared by its connections' event loops and the test.
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var connections = 0
        private var requests: [Request] = []

        func connectionOpened() -> Int {
            lock.withLock {
                connections += 1
                return connections - 1
            }
        }

        /// Records `request` and returns the requests before it.
        func received(_ request: Request) -> [Request] {
            lock.withLock {
                defer { requests.append(request) }
                return requests
            }
        }

        var snapshot: (connections: Int, requests: [Request]) { lock.withLock { (connections, requests) } }
    }
}

/// One connection of the ``ScriptedCoordinator``: plaintext HTTP/1.1 behind the TLS handler.
private final class ScriptedConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let number: Int
    let script: ScriptedCoordinator.Script
    let log: ScriptedCoordinator.Log
    let answer: ScriptedCoordinator.Answer
    private var received: [UInt8] = []
    private var answered = 0
    private var closed = false

    init(number: Int, script: ScriptedCoordinator.Script, log: ScriptedCoordinator.Log, answer: @escaping ScriptedCoordinator.Answer) {
        self.number = number
        self.script = script
        self.log = log
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        while !closed, let request = nextRequest() {
            respond(to: request, context: context)
        }
    }

    /// Takes one whole request off the received bytes, if one is there.
    private func nextRequest() -> ScriptedCoordinator.Request? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = received.indices.dropLast(3).first(where: { Array(received[$0..<$0 + 4]) == separator }) else { return nil }
        let lines = String(decoding: received[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        let bodyStart = end + 4
        guard received.count >= bodyStart + length, requestLine.count >= 2 else { return nil }
        let body = Array(received[bodyStart..<bodyStart + length])
        received.removeFirst(bodyStart + length)
        return .init(connection: number, method: String(requestLine[0]), path: String(requestLine[1]), body: body, answered: false)
    }

    private func respond(to request: ScriptedCoordinator.Request, context: ChannelHandlerContext) {
        let limit: Int
        switch script {
        case .answerThenClose(let count), .answerThenDropNext(let count): limit = count
        case .answerAll: limit = .max
        case .closeAfterHandshake: limit = 0
        }
        guard answered < limit else {
            _ = log.received(request)
            closed = true
            context.close(promise: nil)
            return
        }
        var request = request
        request.answered = true
        let (status, json) = answer(request, log.received(request))
        answered += 1
        let head = "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head + json)), promise: nil)
        if case .answerThenClose(let count) = script, answered == count {
            closed = true
            context.close(promise: nil)
        }
    }
}
