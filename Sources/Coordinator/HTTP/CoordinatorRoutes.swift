import Logging
import FleetWire
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import SecureTransport

/// Every route of `Protocols/fleet-api.openapi.yaml`, on a Hummingbird router.
///
/// Routes only translate: parse and bound the request, call the
/// ``CoordinatorService`` method, encode its answer. Bounds: JSON bodies are
/// read up to ``CoordinatorRoutes/Limits/maxJSONBytes``, update bodies up to
/// the delta limits (compressed; the decoder bounds the decompressed size),
/// and every body must arrive within ``CoordinatorRoutes/Limits/bodyTimeout``.
enum CoordinatorRoutes {
    /// Request bounds the service's own limits do not cover.
    struct Limits: Sendable {
        var maxJSONBytes = 64 << 10
        /// Seconds a client may take to send its body.
        var bodyTimeout: Double = 60
    }

    static func install(
        on router: Router<CoordinatorRequestContext>, service: CoordinatorService,
        metricsRegistry: PrometheusCollectorRegistry?, limits: Limits
    ) {
        @Sendable func body(_ request: Request, _ context: CoordinatorRequestContext, upTo limit: Int) async throws -> [UInt8] {
            try await readBody(request, upTo: limit, timeout: limits.bodyTimeout, on: context.eventLoop)
        }

        router.get("/v1/status") { _, _ in
            try json(await service.status())
        }
        router.post("/v1/heartbeat") { request, context in
            let id = try node(context)
            let bytes = try await body(request, context, upTo: limits.maxJSONBytes)
            let heartbeat = try JSONDecoder().decode(API.Heartbeat.self, from: Data(bytes))
            try checkHeartbeat(heartbeat)
            return try json(await service.heartbeat(from: id, heartbeat))
        }
        router.get("/v1/task") { request, context in
            let id = try node(context)
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 30
            guard wait >= 0, wait <= 60 else {
                throw CoordinatorError(.invalidRequest, "wait must be 0…60 seconds")
            }
            guard let task = await service.task(for: id, wait: wait) else {
                return Response(status: .noContent)
            }
            return try json(task)
        }
        router.put("/v1/rounds/:round/updates") { request, context in
            let id = try node(context)
            let round = try number("round", context)
            guard request.headers[.contentEncoding]?.lowercased() == "zstd" else {
                throw CoordinatorError(.unsupportedMediaType, "updates are sent with Content-Encoding: zstd")
            }
            let bytes = try await body(request, context, upTo: service.configuration.deltaLimits.maxCompressedBytes)
            return try json(try await service.submitUpdate(from: id, round: round, body: bytes), status: .accepted)
        }
        router.get("/v1/model") { request, _ in
            let tags = request.headers[.ifNoneMatch]
            if let tags, entityTags(tags).contains("*") {
                return modelResponse(await service.currentModel(), ifNoneMatch: tags)
            }
            switch await service.modelAnswer(forNodeHolding: heldVersion(ifNoneMatch: tags)) {
            case .notModified(let etag):
                return Response(status: .notModified, headers: [.eTag: etag, .cacheControl: "no-cache"])
            case .delta(let delta) where acceptsDelta(request):
                return deltaResponse(delta)
            case .delta:
                // A client that does not say it reads deltas (an older node, plain curl) gets the checkpoint.
                return modelResponse(await service.currentModel(), ifNoneMatch: tags)
            case .checkpoint(let model):
                return modelResponse(model, ifNoneMatch: tags)
            }
        }
        router.get("/v1/models/:version/delta") { _, context in
            deltaResponse(try await service.modelDelta(version: try number("version", context)))
        }
        router.get("/v1/models/:version") { request, context in
            let model = try await service.model(version: try number("version", context))
            return modelResponse(model, ifNoneMatch: request.headers[.ifNoneMatch])
        }
        router.get("/v1/versions") { _, _ in
            let records = try service.versions().map(VersionRecordJSON.encode)
            return jsonText("{\"versions\":[" + records.joined(separator: ",") + "]}")
        }
        router.get("/v1/versions/:version") { _, context in
            jsonText(VersionRecordJSON.encode(try service.version(try number("version", context))))
        }
        router.post("/v1/versions/:version/approve") { _, context in
            let id = try node(context)
            guard service.configuration.operators.contains(id) else {
                throw CoordinatorError(
                    .forbidden,
                    "\(id) is not an operator; approve on the coordinator host with `fleet-coordinator approve VERSION`, or start it with --operator \(id)"
                )
            }
            return jsonText(VersionRecordJSON.encode(try await service.approve(version: try number("version", context), by: id)))
        }
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            metricsRegistry?.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: try await service.dashboard()))
            )
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
        )
    }

    static func node(_ context: CoordinatorRequestContext) throws(CoordinatorError) -> String {
        guard let identity = context.identity else {
            throw CoordinatorError(.forbidden, "a client certificate naming a node is required")
        }
        return identity.nodeID
    }

    static func number(_ name: String, _ context: CoordinatorRequestContext) throws(CoordinatorError) -> UInt64 {
        try parseNumber(name, context.parameters.get(name))
    }

    /// A path number: decimal digits only, 1…2⁶³−1 (the store's integers are
    /// signed 64-bit; no version or round reaches past them).
    static func parseNumber(_ name: String, _ text: String?) throws(CoordinatorError) -> UInt64 {
        let shown = text.map { $0.count > 40 ? String($0.prefix(40)) + "…" : $0 } ?? ""
        guard let text, !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = UInt64(text), value >= 1, value <= UInt64(Int64.max)
        else {
            throw CoordinatorError(.notFound, "'\(shown)' is not a \(name) number (an integer from 1 to \(Int64.max))")
        }
        return value
    }

    /// A heartbeat's numbers and names, in the ranges the API declares.
    static func checkHeartbeat(_ heartbeat: API.Heartbeat) throws(CoordinatorError) {
        if let pending = heartbeat.capturesPending, pending < 0 {
            throw CoordinatorError(.invalidRequest, "captures_pending is \(pending); it counts captures and must be ≥ 0")
        }
        if let version = heartbeat.modelVersion, version < 1 || version > UInt64(Int64.max) {
            throw CoordinatorError(.invalidRequest, "model_version is \(version); versions are numbered from 1 to \(Int64.max)")
        }
        if let region = heartbeat.region, region.utf8.count > 128 {
            throw CoordinatorError(.invalidRequest, "region is \(region.utf8.count) bytes long; at most 128 are accepted")
        }
    }

    /// The body, refused past `limit` bytes (413) or `timeout` seconds (408).
    static func readBody(_ request: Request, upTo limit: Int, timeout: Double, on eventLoop: any EventLoop) async throws -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw CoordinatorError(.payloadTooLarge, "the body declares \(declared) bytes; this route accepts at most \(limit)")
        }
        let body = request.body
        let buffer = try await withDeadline(seconds: timeout, on: eventLoop) {
            try await body.collect(upTo: limit)
        }
        return Array(buffer.readableBytesView)
    }

    static func jsonText(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The entity tags of an `If-None-Match` value, at most 16 (a node sends one).
    static func entityTags(_ value: String) -> [Substring] {
        value.split(separator: ",", maxSplits: 16).prefix(16).map { $0.trimmingCharacters(in: .whitespaces)[...] }
    }

    /// The version a node says it holds: the first `"v<version>"` tag of its `If-None-Match`.
    static func heldVersion(ifNoneMatch value: String?) -> UInt64? {
        guard let value else { return nil }
        for tag in entityTags(value) {
            let bare = tag.hasPrefix("W/") ? tag.dropFirst(2) : tag
            guard bare.count >= 4, bare.count <= 24, bare.hasPrefix("\"v"), bare.hasSuffix("\"") else { continue }
            if let version = UInt64(bare.dropFirst(2).dropLast()), version >= 1, version <= UInt64(Int64.max) { return version }
        }
        return nil
    }

    /// Whether the request's `Accept` names the model-delta media type.
    static func acceptsDelta(_ request: Request) -> Bool {
        request.headers[values: .accept].contains { $0.lowercased().contains(ServedDelta.contentType) }
    }

    /// A version as the change from its parent: the delta container with the version's manifest and signature headers.
    static func deltaResponse(_ delta: ServedDelta) -> Response {
        var headers: HTTPFields = [
            .eTag: delta.etag, .cacheControl: "no-cache", .contentType: ServedDelta.contentType, .contentEncoding: "zstd",
        ]
        headers[HTTPField.Name("Fleet-Model-Version")!] = String(delta.version)
        headers[HTTPField.Name("Fleet-Model-Parent")!] = String(delta.parent)
        headers[HTTPField.Name("Fleet-Manifest")!] = delta.manifestBase64
        if let signature = delta.signatureBase64 {
            headers[HTTPField.Name("Fleet-Manifest-Signature")!] = signature
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: delta.compressedDelta)))
    }

    /// A checkpoint with its manifest and signature headers, or 304 when the node has it.
    ///
    /// A node names what it has by version (`"v<n>"`) or, for weights no manifest
    /// has vouched for yet (the policy it was provisioned with), by content
    /// (`"sha256:<hex>"`). A 304 for content carries the version's manifest and
    /// signature, so the node learns which version its weights are and checks that
    /// the signed hash is theirs before it trusts them.
    static func modelResponse(_ model: ServedModel, ifNoneMatch: String?) -> Response {
        var headers: HTTPFields = [.eTag: model.etag, .cacheControl: "no-cache"]
        let tags = ifNoneMatch.map(entityTags) ?? []
        if tags.contains(where: { $0 == model.etag || $0 == "*" }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[HTTPField.Name("Fleet-Model-Version")!] = String(model.version)
        headers[HTTPField.Name("Fleet-Manifest")!] = model.manifestBase64
        if let signature = model.signatureBase64 {
            headers[HTTPField.Name("Fleet-Manifest-Signature")!] = signature
        }
        if tags.contains(where: { $0 == model.contentTag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/octet-stream"
        headers[.contentEncoding] = "zstd"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: model.compressedCheckpoint)))
    }
}
