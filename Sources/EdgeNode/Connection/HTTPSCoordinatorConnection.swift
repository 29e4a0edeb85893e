public import FleetWire
import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
public import SecureTransport

/// The coordinator API over HTTP/1.1 on one mutually authenticated TLS connection.
///
/// Why this shape: a node makes a handful of requests a minute, one at a
/// time (heartbeat, long poll, download, upload), so one keep-alive
/// connection, opened on first use and reopened after any failure, is all it
/// needs — and it spares the coordinator a TLS handshake per request.
/// Requests are serialized: a caller waits its turn. The TLS layer is the
/// fleet's own OpenSSL handler presenting the node's certificate; answers are
/// read whole under the size bounds of ``ConnectionConfiguration``, and the
/// coordinator's JSON errors become typed ``ConnectionError``s.
///
/// A request whose connection closed before its answer arrived is sent again
/// on a fresh connection, up to ``maxAttempts`` connections in all: a
/// keep-alive connection the coordinator dropped while idle, or a new one it
/// dropped at once, says nothing about the request. Resending is safe for
/// every request of the API: reads and heartbeats change nothing twice, and
/// the coordinator takes one update per node and round, answering a second
/// copy with 409 `duplicate_update` — which, after an attempt that was sent
/// and went unanswered, means that attempt was taken, so the upload succeeds.
/// Every other failure (a timeout, TLS, an answer) is reported to the caller.
/// Cancelling the calling task closes the connection and ends its request at
/// once, so a graceful shutdown never waits out a long poll.
public actor HTTPSCoordinatorConnection: CoordinatorConnection {
    public nonisolated let configuration: ConnectionConfiguration
    private let tls: TLSContext
    private let group: any EventLoopGroup
    private var channel: (any Channel)?
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// A connection (opened lazily) to the coordinator.
    /// - Parameters:
    ///   - configuration: where and with which bounds.
    ///   - tls: a client context with the node's certificate and the fleet CA.
    ///   - group: the event loops to run on (NIO's shared group by default).
    public init(
        configuration: ConnectionConfiguration, tls: TLSContext,
        group: (any EventLoopGroup)? = nil
    ) throws(ConnectionError) {
        guard tls.configuration.role == .client else {
            throw ConnectionError(.invalidConfiguration, "the coordinator connection needs a client TLS configuration")
        }
        self.configuration = configuration
        self.tls = tls
        self.group = group ?? MultiThreadedEventLoopGroup.singleton
    }

    // MARK: CoordinatorConnection

    public func heartbeat(_ heartbeat: NodeHeartbeat) async throws(ConnectionError) -> HeartbeatReply {
        let body = try Self.encode(heartbeat)
        let response = try await exchange(.POST, "/v1/heartbeat", contentType: "application/json", body: body)
        try Self.expect(response, status: 200)
        return try Self.decode(HeartbeatReply.self, from: response)
    }

    public func pollTask(waitSeconds: Int) async throws(ConnectionError) -> TaskAssignment? {
        let wait = min(max(waitSeconds, 0), 60)
        let response = try await exchange(.GET, "/v1/task?wait=\(wait)", extraTime: .seconds(Int64(wait)))
        if response.status == 204 { return nil }
        try Self.expect(response, status: 200)
        return try Self.decode(TaskAssignment.self, from: response)
    }

    public func fetchModel(_ request: ModelRequest) async throws(ConnectionError) -> ModelFetch {
        let path: String
        var headers: [(String, String)] = [("Accept-Encoding", "zstd")]
        switch request {
        case .current(let known):
            path = "/v1/model"
            if let known {
                // Naming the version held and accepting a delta: the change from it is enough.
                headers.append(("If-None-Match", "\"v\(known)\""))
                headers.append(("Accept", "\(Self.deltaContentType), application/octet-stream, application/json"))
            }
        case .version(let version):
            path = "/v1/models/\(version)"
        case .unlessHolding(let contentHash, let version):
            path = version.map { "/v1/models/\($0)" } ?? "/v1/model"
            headers.append(("If-None-Match", "\"\(contentHash)\""))
        }
        let response = try await exchange(.GET, path, headers: headers, maxResponseBytes: configuration.maxModelResponseBytes)
        if response.status == 304 {
            guard case .unlessHolding = request else { return .notModified }
            return .confirmed(try Self.confirmation(from: response))
        }
        try Self.expect(response, status: 200)
        if response.head.headers.first(name: "Content-Type")?.lowercased().hasPrefix(Self.deltaContentType) == true {
            return .delta(try Self.deltaDownload(from: response))
        }
        return .model(try Self.modelDownload(from: response))
    }

    public func uploadUpdate(round: UInt64, compressedDelta: [UInt8]) async throws(ConnectionError) -> UpdateReceipt {
        let exchanged = try await exchangeResending(
            .PUT, "/v1/rounds/\(round)/updates",
            headers: [("Content-Encoding", "zstd")], contentType: "application/octet-stream", body: compressedDelta)
        let response = exchanged.response
        if exchanged.unansweredAttemptSent, response.status == 409,
           (try? JSONDecoder().decode(ErrorReply.self, from: Data(response.bytes)))?.error == "duplicate_update" {
            // An earlier attempt reached the coordinator and was taken; only its answer was lost.
            // The coordinator's count went with that answer: this update is the least it holds.
            return UpdateReceipt(round: round, acceptedUpdates: 1)
        }
        try Self.expect(response, status: 202)
        return try Self.decode(UpdateReceipt.self, from: response)
    }

    public func close() async {
        let open = channel
        channel = nil
        try? await open?.close()
    }

    // MARK: Exchanges

    /// The most connections one request is tried on before its failure is reported.
    public static let maxAttempts = 3

    /// An answer, and whether an earlier attempt of the same request was written whole and went unanswered.
    struct Exchanged {
        var response: HTTPResponse
        var unansweredAttemptSent: Bool
    }

    /// Sends one request and reads its whole answer, waiting for the connection to be free first.
    private func exchange(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], contentType: String? = nil,
        body: [UInt8]? = nil, maxResponseBytes: Int? = nil, extraTime: TimeAmount = .zero
    ) async throws(ConnectionError) -> HTTPResponse {
        try await exchangeResending(
            method, path, headers: headers, contentType: contentType, body: body, maxResponseBytes: maxResponseBytes,
            extraTime: extraTime
        ).response
    }

    /// ``exchange(_:_:headers:contentType:body:maxResponseBytes:extraTime:)``, telling whether the request may have
    /// reached the coordinator before the attempt that was answered.
    private func exchangeResending(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], contentType: String? = nil,
        body: [UInt8]? = nil, maxResponseBytes: Int? = nil, extraTime: TimeAmount = .zero
    ) async throws(ConnectionError) -> Exchanged {
        await acquire()
        defer { release() }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: configuration.hostHeader)
        head.headers.add(name: "User-Agent", value: "fleet-node")
        if !headers.contains(where: { $0.0 == "Accept" }) { head.headers.add(name: "Accept", value: "application/json") }
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let contentType { head.headers.add(name: "Content-Type", value: contentType) }
        head.headers.add(name: "Content-Length", value: String(body?.count ?? 0))
        let limit = maxResponseBytes ?? configuration.maxControlResponseBytes
        let timeout = configuration.requestTimeout + extraTime

        var unansweredAttemptSent = false
        var failure = ConnectionError(.connectionClosed, "the request was not attempted")
        for _ in 0..<Self.maxAttempts {
            let channel = try await connectedChannel()
            let written = channel.eventLoop.makePromise(of: Void.self)
            do {
                let response = try await send(head: head, body: body, limit: limit, timeout: timeout, on: channel, written: written)
                return Exchanged(response: response, unansweredAttemptSent: unansweredAttemptSent)
            } catch {
                drop(channel)
                if Task.isCancelled { throw ConnectionError(.connectionClosed, "the request was cancelled") }
                // Closed before the answer came: a stale keep-alive connection, or one the coordinator
                // dropped at once. Any other failure is the caller's to see.
                guard error.code == .connectionClosed else { throw error }
                // The write's outcome is known by now: a channel fails its pending writes as it closes.
                if (try? await written.futureResult.get()) != nil { unansweredAttemptSent = true }
                failure = error
            }
        }
        failure.message = "the coordinator closed \(Self.maxAttempts) connections in a row without answering; the last: \(failure.message)"
        throw failure
    }

    /// Writes one request on `channel` and reads its answer; `written` completes when the request was written whole.
    private func send(
        head: HTTPRequestHead, body: [UInt8]?, limit: Int, timeout: TimeAmount, on channel: any Channel,
        written: EventLoopPromise<Void>
    ) async throws(ConnectionError) -> HTTPResponse {
        let promise = channel.eventLoop.makePromise(of: HTTPResponse.self)
        let buffer = body.map { ByteBuffer(bytes: $0) }
        let exchange = HTTPExchange(head: head, body: buffer, maxResponseBytes: limit, response: promise)
        let seconds = Double(timeout.nanoseconds) / 1e9
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            (try? channel.pipeline.syncOperations.handler(type: HTTPExchangeHandler.self))?.timeOut(after: seconds)
        }
        channel.writeAndFlush(exchange).whenComplete { result in
            switch result {
            case .success:
                written.succeed()
            case .failure(let error):
                written.fail(error)
                promise.fail(ConnectionError(.connectionClosed, "the request could not be sent: \(error)"))
            }
        }
        defer { timer.cancel() }
        do {
            // Cancelling the caller (graceful shutdown during a long poll) closes the connection,
            // which fails the exchange at once instead of waiting out the poll.
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch let error as ConnectionError {
            throw error
        } catch {
            throw ConnectionError(.connectionClosed, "the request failed: \(error)")
        }
    }

    /// The open connection, or a new one (TCP connect, then the TLS handshake).
    private func connectedChannel() async throws(ConnectionError) -> any Channel {
        if let channel, channel.isActive { return channel }
        channel = nil
        let tls = self.tls
        let host = configuration.host
        let handshake = group.next().makePromise(of: TLSConnectionInfo.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try TLSHandler(context: tls, serverHostname: host, handshakePromise: handshake)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPExchangeHandler())
                }
            }
        let opened: any Channel
        do {
            opened = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            handshake.fail(error)
            throw ConnectionError(
                .connectFailed, "cannot connect to \(configuration.hostHeader): \(error)")
        }
        Self.limitHandshake(handshake, of: opened, to: configuration.connectTimeout)
        do {
            _ = try await handshake.futureResult.get()
        } catch {
            opened.close(promise: nil)
            if let error = error as? ConnectionError { throw error }
            throw ConnectionError(.tlsFailed, "the TLS handshake with \(configuration.hostHeader) failed: \(error)")
        }
        channel = opened
        return opened
    }

    /// Fails `handshake` when it has not completed within `timeout` or the channel closes first, and closes
    /// `channel` when — and only when — the handshake failed.
    ///
    /// Why the close follows the handshake's outcome and not the timer: the caller learns of the handshake
    /// when this actor next runs, which on a busy machine can be long after the event loop completed it. A
    /// timer that closed the channel itself would cut a connection that had shaken hands in time, and the
    /// request then written to it would fail with "I/O on closed channel".
    static func limitHandshake(_ handshake: EventLoopPromise<TLSConnectionInfo>, of channel: any Channel, to timeout: TimeAmount) {
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            handshake.fail(ConnectionError(.timedOut, "the TLS handshake took longer than the connect timeout"))
        }
        channel.closeFuture.whenComplete { _ in
            handshake.fail(ConnectionError(.connectionClosed, "the coordinator closed the connection during the TLS handshake"))
        }
        handshake.futureResult.whenComplete { result in
            timer.cancel()
            if case .failure = result { channel.close(promise: nil) }
        }
    }

    private func drop(_ failed: any Channel) {
        failed.close(promise: nil)
        if channel === failed { channel = nil }
    }

    // MARK: One request at a time

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }

    // MARK: Bodies

    static func encode(_ value: some Encodable) throws(ConnectionError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return Array(try encoder.encode(value)) } catch {
            throw ConnectionError(.invalidConfiguration, "cannot encode the request body: \(error)")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse) throws(ConnectionError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(response.bytes)) } catch {
            throw ConnectionError(
                .invalidResponse, "the coordinator's \(response.status) answer is not a valid \(T.self): \(error)",
                status: response.status)
        }
    }

    /// Passes when the status is `expected`, otherwise throws the typed error the status and body call for.
    static func expect(_ response: HTTPResponse, status expected: Int) throws(ConnectionError) {
        let status = response.status
        guard status != expected else { return }
        let body = try? JSONDecoder().decode(ErrorReply.self, from: Data(response.bytes))
        let detail = body.map { "\($0.error): \($0.message)" } ?? "no JSON error body"
        switch status {
        case 409:
            throw ConnectionError(
                .roundConflict, "the coordinator refused the update (\(detail))", status: status, errorCode: body?.error,
                currentRound: body?.currentRound)
        case 408, 429, 500...599:
            throw ConnectionError(.serverUnavailable, "the coordinator answered \(status) (\(detail))", status: status, errorCode: body?.error)
        case 400...499:
            throw ConnectionError(.refused, "the coordinator refused the request with \(status) (\(detail))", status: status, errorCode: body?.error)
        default:
            throw ConnectionError(.invalidResponse, "expected status \(expected), got \(status) (\(detail))", status: status, errorCode: body?.error)
        }
    }

    /// The media type of a version sent as the change from its parent.
    static let deltaContentType = "application/vnd.fleet.model-delta"

    /// Reads the model headers; the bytes are checked later by ``ModelVerifier``.
    static func modelDownload(from response: HTTPResponse) throws(ConnectionError) -> ModelDownload {
        let headers = ModelHeaders(response: response)
        try headers.requireZstd("the checkpoint")
        return ModelDownload(
            version: try headers.number("Fleet-Model-Version"), manifestBytes: try headers.base64("Fleet-Manifest"),
            signature: try headers.base64("Fleet-Manifest-Signature"), compressedCheckpoint: response.bytes)
    }

    /// Reads the headers of a 304 for the content the node named; checked later by ``ModelVerifier``.
    static func confirmation(from response: HTTPResponse) throws(ConnectionError) -> ModelConfirmation {
        let headers = ModelHeaders(response: response)
        return ModelConfirmation(
            version: try headers.number("Fleet-Model-Version"), manifestBytes: try headers.base64("Fleet-Manifest"),
            signature: try headers.base64("Fleet-Manifest-Signature"))
    }

    /// Reads the headers of a delta answer; the delta is applied and checked later by ``ModelVerifier``.
    static func deltaDownload(from response: HTTPResponse) throws(ConnectionError) -> ModelDeltaDownload {
        let headers = ModelHeaders(response: response)
        try headers.requireZstd("the model delta")
        return ModelDeltaDownload(
            version: try headers.number("Fleet-Model-Version"), parent: try headers.number("Fleet-Model-Parent"),
            manifestBytes: try headers.base64("Fleet-Manifest"), signature: try headers.base64("Fleet-Manifest-Signature"),
            compressedDelta: response.bytes)
    }

    /// The headers a model answer carries beside its body, read strictly.
    private struct ModelHeaders {
        let response: HTTPResponse

        func text(_ name: String) throws(ConnectionError) -> String {
            guard let value = response.head.headers.first(name: name) else {
                throw ConnectionError(.invalidResponse, "the model answer lacks the \(name) header", status: response.status)
            }
            return value
        }

        func base64(_ name: String) throws(ConnectionError) -> [UInt8] {
            guard let data = Data(base64Encoded: try text(name)) else {
                throw ConnectionError(.invalidResponse, "the \(name) header is not base64", status: response.status)
            }
            return Array(data)
        }

        func number(_ name: String) throws(ConnectionError) -> UInt64 {
            guard let value = UInt64(try text(name)) else {
                throw ConnectionError(.invalidResponse, "\(name) is not a version number", status: response.status)
            }
            return value
        }

        func requireZstd(_ what: String) throws(ConnectionError) {
            let encoding = response.head.headers.first(name: "Content-Encoding")?.lowercased()
            guard encoding == "zstd" else {
                throw ConnectionError(
                    .invalidResponse, "\(what) must be sent with Content-Encoding: zstd, not \(encoding ?? "none")",
                    status: response.status)
            }
        }
    }
}
