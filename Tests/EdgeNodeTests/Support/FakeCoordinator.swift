import FleetWire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
@testable import EdgeNode
@testable import SecureTransport

/// A request context that records which node and which TCP connection made each request.
struct FakeContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let node: NodeIdentity?
    let clientPort: Int?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        node = NodeIdentity.current
        clientPort = source.channel.remoteAddress?.port
    }
}

/// What the fake coordinator serves and what it saw.
actor FakeState {
    var currentVersion: UInt64 = 0
    var models: [UInt64: PublishedModel] = [:]
    /// Deltas served to a node whose If-None-Match names the version's parent, by version.
    var deltas: [UInt64: ModelDeltaDownload] = [:]
    /// The versions asked for by number (`GET /v1/models/{version}`), in order.
    var versionRequests: [UInt64] = []
    var task: TaskAssignment?
    /// The round that takes updates; uploads for another get 409.
    var openRound: UInt64?
    var heartbeats: [NodeHeartbeat] = []
    var uploads: [PolicyDelta] = []
    var nodes: Set<String> = []
    var clientPorts: Set<Int> = []
    /// Overrides: an answer status for uploads, a delay for polls, a padding for heartbeat replies.
    var uploadStatus: Int?
    var pollDelay: Double = 0
    var heartbeatPadding = 0
    /// The signed freshness statement heartbeat replies carry (nil: none, as from an older coordinator).
    var freshness: SignedFreshness?
    /// A stale coordinator or a man in the middle: every model request is answered with this version.
    var servedOverride: UInt64?
    /// Model requests answered (`GET /v1/model` and `GET /v1/models/{version}`).
    var modelRequests = 0

    func setFreshness(_ signed: SignedFreshness?) { freshness = signed }
    func setServedOverride(_ version: UInt64?) { servedOverride = version }
    /// Names `version` as current in heartbeat replies without publishing it.
    func setCurrentVersion(_ version: UInt64) { currentVersion = version }
    func countModelRequest() { modelRequests += 1 }

    func publish(_ model: PublishedModel) {
        models[model.version] = model
        currentVersion = max(currentVersion, model.version)
    }

    func publish(_ model: PublishedModel, delta: ModelDeltaDownload) {
        publish(model)
        deltas[model.version] = delta
    }

    func setTask(_ task: TaskAssignment?) {
        self.task = task
        openRound = task?.round ?? openRound
    }

    func recordVersionRequest(_ version: UInt64) { versionRequests.append(version) }

    /// The versions whose whole checkpoint was sent, in order.
    var checkpointsServed: [UInt64] = []

    func recordCheckpointServed(_ version: UInt64) { checkpointsServed.append(version) }

    func setUploadStatus(_ status: Int?) { uploadStatus = status }
    func setPollDelay(_ seconds: Double) { pollDelay = seconds }
    func setHeartbeatPadding(_ bytes: Int) { heartbeatPadding = bytes }

    func saw(node: NodeIdentity?, port: Int?) {
        if let node { nodes.insert(node.nodeID) }
        if let port { clientPorts.insert(port) }
    }

    func recordHeartbeat(_ beat: NodeHeartbeat) { heartbeats.append(beat) }

    func takeTask() -> TaskAssignment? { task }

    /// Accepts or refuses an upload the way the coordinator does.
    func receiveUpload(round: UInt64, body: [UInt8]) -> (status: Int, json: String) {
        if let uploadStatus { return (uploadStatus, #"{"error":"forced","message":"forced by the test"}"#) }
        guard round == openRound else {
            return (409, #"{"error":"round_closed","message":"round \#(round) is closed","current_round":\#(openRound.map(String.init) ?? "null")}"#)
        }
        do {
            let delta = try DeltaCodec.decodeCompressed(body)
            uploads.append(delta)
            task = nil  // one update per node and round
            return (202, #"{"round":\#(round),"accepted_updates":\#(uploads.count)}"#)
        } catch {
            return (400, #"{"error":"invalid_update","message":"\#(error.message)"}"#)
        }
    }
}

/// A coordinator double serving the API of `Protocols/fleet-api.openapi.yaml`
/// from Hummingbird behind the fleet's mutual-TLS channel on 127.0.0.1.
enum FakeCoordinator {
    /// Serves `state` on `port` (0: any free port), runs `body` with the port, then stops the server.
    static func serve<T: Sendable>(
        _ state: FakeState, port: Int = 0, fleet: TestFleet = .shared, _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        let router = Router(context: FakeContext.self)
        routes(router, state)
        let (ports, sink) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "fake-coordinator")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            server: try .http1(tls: fleet.serverConfiguration()),
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in sink.yield(channel.localAddress!.port!) },
            logger: logger)
        // Stopped by a graceful shutdown, not by cancellation: cancelling a
        // server with an accepted connection still queued traps in NIO.
        let services = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next() else { throw CancellationError() }
            let result: T
            do { result = try await body(bound) } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
            while let _ = try await group.next() {}
            return result
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func routes(_ router: Router<FakeContext>, _ state: FakeState) {
        router.post("v1/heartbeat") { request, context -> Response in
            await state.saw(node: context.node, port: context.clientPort)
            let body = try await request.body.collect(upTo: 1 << 16)
            let beat = try JSONDecoder().decode(NodeHeartbeat.self, from: Data(body.readableBytesView))
            await state.recordHeartbeat(beat)
            let version = await state.currentVersion
            let round = await state.openRound
            let padding = String(repeating: " ", count: await state.heartbeatPadding)
            let signed = await state.freshness
            let freshness = signed.map { #","freshness":{"statement":"\#($0.statement)","signature":"\#($0.signature)"}"# } ?? ""
            return json(.ok, #"{"current_version":\#(version),"open_round":\#(round.map(String.init) ?? "null"),"heartbeat_interval":0.5"#
                        + freshness + "}" + padding)
        }
        router.get("v1/task") { request, context -> Response in
            await state.saw(node: context.node, port: context.clientPort)
            let delay = await state.pollDelay
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            let wait = min(Double(request.uri.queryParameters.get("wait", as: Int.self) ?? 30), 0.5)
            let deadline = ContinuousClock.now + .seconds(wait)
            while true {
                if let task = await state.takeTask() {
                    let compression = task.compression.map { _ in "" } ?? ""
                    return json(.ok, #"{"round":\#(task.round),"base_version":\#(task.baseVersion),"deadline_seconds":\#(task.deadlineSeconds)}"# + compression)
                }
                if ContinuousClock.now >= deadline { return Response(status: .noContent) }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        router.get("v1/model") { request, context -> Response in
            await state.saw(node: context.node, port: context.clientPort)
            await state.countModelRequest()
            if let forced = await state.servedOverride, let model = await state.models[forced] {
                return await modelResponse(model, ifNoneMatch: nil, state: state)
            }
            let version = await state.currentVersion
            if request.headers[.ifNoneMatch] == "\"v\(version)\"" { return Response(status: .notModified) }
            if let delta = await state.deltas[version], request.headers[.ifNoneMatch] == "\"v\(delta.parent)\"",
               request.headers[values: .accept].contains(where: { $0.contains("application/vnd.fleet.model-delta") }) {
                return deltaResponse(delta)
            }
            guard let model = await state.models[version] else { return json(.notFound, #"{"error":"no_model","message":"none"}"#) }
            return await modelResponse(model, ifNoneMatch: request.headers[.ifNoneMatch], state: state)
        }
        router.get("v1/models/:version") { request, context -> Response in
            await state.saw(node: context.node, port: context.clientPort)
            if let version = context.parameters.get("version", as: UInt64.self) { await state.recordVersionRequest(version) }
            await state.countModelRequest()
            if let forced = await state.servedOverride, let model = await state.models[forced] {
                return await modelResponse(model, ifNoneMatch: nil, state: state)
            }
            guard let version = context.parameters.get("version", as: UInt64.self), let model = await state.models[version] else {
                return json(.notFound, #"{"error":"unknown_version","message":"no such version"}"#)
            }
            return await modelResponse(model, ifNoneMatch: request.headers[.ifNoneMatch], state: state)
        }
        router.put("v1/rounds/:round/updates") { request, context -> Response in
            await state.saw(node: context.node, port: context.clientPort)
            guard request.headers[.contentEncoding] == "zstd" else {
                return json(.unsupportedMediaType, #"{"error":"unsupported_encoding","message":"zstd required"}"#)
            }
            let round = context.parameters.get("round", as: UInt64.self) ?? 0
            let body = try await request.body.collect(upTo: 16 << 20)
            let (status, text) = await state.receiveUpload(round: round, body: Array(body.readableBytesView))
            return json(HTTPResponse.Status(code: status), text)
        }
    }

    private static func deltaResponse(_ delta: ModelDeltaDownload) -> Response {
        var headers: HTTPFields = [
            .contentType: "application/vnd.fleet.model-delta", .contentEncoding: "zstd", .eTag: "\"v\(delta.version)\"",
        ]
        headers[HTTPField.Name("Fleet-Model-Version")!] = String(delta.version)
        headers[HTTPField.Name("Fleet-Model-Parent")!] = String(delta.parent)
        headers[HTTPField.Name("Fleet-Manifest")!] = Data(delta.manifestBytes).base64EncodedString()
        headers[HTTPField.Name("Fleet-Manifest-Signature")!] = Data(delta.signature).base64EncodedString()
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: delta.compressedDelta)))
    }

    /// The checkpoint, or — when If-None-Match names its content hash — a 304 with only the signed headers.
    private static func modelResponse(_ model: PublishedModel, ifNoneMatch: String?, state: FakeState) async -> Response {
        var headers: HTTPFields = [.eTag: "\"v\(model.version)\""]
        headers[HTTPField.Name("Fleet-Model-Version")!] = String(model.version)
        headers[HTTPField.Name("Fleet-Manifest")!] = Data(model.manifestBytes).base64EncodedString()
        headers[HTTPField.Name("Fleet-Manifest-Signature")!] = Data(model.signature).base64EncodedString()
        if ifNoneMatch == "\"" + ModelVerifier.contentHash(of: model.checkpoint) + "\"" {
            return Response(status: .notModified, headers: headers)
        }
        await state.recordCheckpointServed(model.version)
        headers[.contentType] = "application/octet-stream"
        headers[.contentEncoding] = "zstd"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: model.compressed)))
    }
}
