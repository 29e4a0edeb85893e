import Coordinator
import EdgeNode
import Foundation
import FleetWire

/// A node's connection to a coordinator in the same process, with no
/// network: the in-memory transport for fleets too large for one machine's
/// TLS connections. Errors are the ones the HTTPS client would report for
/// the same refusals, so nodes behave the same over either transport.
struct InProcessConnection: CoordinatorConnection {
    let node: String
    let service: CoordinatorService

    func heartbeat(_ heartbeat: NodeHeartbeat) async throws(ConnectionError) -> HeartbeatReply {
        await service.heartbeat(from: node, heartbeat)
    }

    func pollTask(waitSeconds: Int) async throws(ConnectionError) -> TaskAssignment? {
        await service.task(for: node, wait: Double(waitSeconds))
    }

    func fetchModel(_ request: ModelRequest) async throws(ConnectionError) -> ModelFetch {
        let served: ServedModel
        switch request {
        case .current(let known):
            served = await service.currentModel()
            if known == served.version { return .notModified }
        case .version(let number):
            do { served = try await service.model(version: number) } catch { throw Self.map(error) }
        }
        guard let manifest = Data(base64Encoded: served.manifestBase64),
              let signature = served.signatureBase64.flatMap({ Data(base64Encoded: $0) })
        else {
            throw ConnectionError(.invalidResponse, "version \(served.version) has no signed manifest")
        }
        return .model(ModelDownload(
            version: served.version, manifestBytes: [UInt8](manifest), signature: [UInt8](signature),
            compressedCheckpoint: served.compressedCheckpoint))
    }

    func uploadUpdate(round: UInt64, compressedDelta: [UInt8]) async throws(ConnectionError) -> UpdateReceipt {
        do {
            return try await service.submitUpdate(from: node, round: round, body: compressedDelta)
        } catch {
            throw Self.map(error)
        }
    }

    func close() async {}

    /// The refusal as the HTTPS client reports it.
    static func map(_ error: CoordinatorError) -> ConnectionError {
        let status = error.code.status
        let code: ConnectionError.Code = status == 409 ? .roundConflict : status >= 500 ? .serverUnavailable : .refused
        return ConnectionError(code, error.message, status: status, errorCode: error.code.name)
    }
}
