import Coordinator
import FleetWire
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SecureTransport

/// Reads a running coordinator's API over mutual TLS, with a client
/// certificate of its own: the round in progress, every version with its
/// manifest, and the update bytes received so far.
///
/// Why a client of its own: the node's connection speaks only the node's
/// four conversations. Reading `/v1/status`, `/v1/versions` and `/metrics`
/// does not count as a heartbeat, so the observer is never invited to a round.
/// Each request opens its own connection: a few a second to 127.0.0.1 cost nothing.
struct CoordinatorObserver: Sendable {
    let port: Int
    let tls: TLSContext
    var timeout: TimeAmount = .seconds(10)

    /// A client presenting `certificate` and `key` (PEM files) and trusting `ca`.
    init(port: Int, certificate: URL, key: URL, ca: URL) throws(SimulationError) {
        self.port = port
        do {
            tls = try TLSContext(configuration: .client(
                trustRoots: [try Certificate(pemFile: ca.path)],
                certificateChain: [try Certificate(pemFile: certificate.path)],
                privateKey: try PrivateKey(pemFile: key.path)))
        } catch {
            throw SimulationError(.certificates, "cannot load the observer's certificate \(certificate.path): \(error)")
        }
    }

    /// Status and versions, with the update-bytes counter read just before and
    /// just after the status.
    ///
    /// The counter only grows, so when both readings agree it held that value
    /// at the moment the status was taken, and the two describe the same
    /// instant. When they differ, updates arrived in between and the counter is
    /// left out rather than paired with a status it does not match.
    func observe() async throws(SimulationError) -> CoordinatorObservation {
        let before = try await updateBytesReceived()
        let status = try decode(API.Status.self, from: try await get("/v1/status"), path: "/v1/status")
        let after = try await updateBytesReceived()
        let versions = try decode(VersionList.self, from: try await get("/v1/versions"), path: "/v1/versions").versions
        return CoordinatorObservation(status: status, versions: versions, updateBytesReceived: before == after ? before : nil)
    }

    private func updateBytesReceived() async throws(SimulationError) -> Int? {
        let metrics = String(decoding: try await get("/metrics"), as: UTF8.self)
        return Self.sample("fleet_update_bytes_received_total", in: metrics).map { Int($0) }
    }

    /// The value of an unlabelled sample in Prometheus text.
    static func sample(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private struct VersionList: Decodable { var versions: [VersionListing] }

    private func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], path: String) throws(SimulationError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw SimulationError(.coordinatorAPI, "GET \(path) answered with JSON that is not a \(T.self): \(error)")
        }
    }

    // MARK: One GET

    /// The body of a 200 answer to `GET path`.
    func get(_ path: String) async throws(SimulationError) -> [UInt8] {
        let response: CollectedResponse
        do {
            response = try await exchange(path)
        } catch let error as SimulationError {
            throw error
        } catch {
            throw SimulationError(.coordinatorAPI, "GET https://127.0.0.1:\(port)\(path) failed: \(error)")
        }
        guard response.status == 200 else {
            throw SimulationError(
                .coordinatorAPI,
                "GET \(path) answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        return response.body
    }

    private func exchange(_ path: String) async throws -> CollectedResponse {
        let group = MultiThreadedEventLoopGroup.singleton
        let eventLoop = group.next()
        let handshake = eventLoop.makePromise(of: TLSConnectionInfo.self)
        let response = eventLoop.makePromise(of: CollectedResponse.self)
        let tls = self.tls
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            TLSHandler(context: tls, serverHostname: "127.0.0.1", handshakePromise: handshake))
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(response: response))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            handshake.fail(error)
            response.fail(error)
            throw error
        }
        // Whatever happens, the connection is closed and both promises are completed.
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in
            handshake.fail(ChannelError.ioOnClosedChannel)
            response.fail(ChannelError.ioOnClosedChannel)
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        _ = try await handshake.futureResult.get()
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "User-Agent", value: "fleet-sim")
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return try await response.futureResult.get()
    }
}

/// What one look at the coordinator saw.
struct CoordinatorObservation: Sendable {
    var status: API.Status
    var versions: [VersionListing]
    /// `fleet_update_bytes_received_total` when `status` was taken: every update
    /// body received since the coordinator started; nil when it moved during the look.
    var updateBytesReceived: Int?
}

/// One entry of `GET /v1/versions`.
struct VersionListing: Sendable, Decodable, Equatable {
    var version: UInt64
    /// published, rejected or awaiting_approval.
    var status: String
    var manifest: ModelManifest
}

/// A whole HTTP answer.
private struct CollectedResponse: Sendable {
    var status: Int
    var body: [UInt8]
}

/// Collects one response (head, body, end) and completes the promise with it.
private final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// Larger than any status, version list or metrics page of a simulated fleet.
    static let maxBodyBytes = 16 << 20
    private let response: EventLoopPromise<CollectedResponse>
    private var status: Int?
    private var body: [UInt8] = []

    init(response: EventLoopPromise<CollectedResponse>) {
        self.response = response
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var buffer):
            guard body.count + buffer.readableBytes <= Self.maxBodyBytes else {
                response.fail(SimulationError(.coordinatorAPI, "an answer was larger than \(Self.maxBodyBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            response.succeed(CollectedResponse(status: status ?? 0, body: body))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        response.fail(error)
        context.close(promise: nil)
    }
}
