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
            switch await service.modelAnswer(forNodeHolding: known) {
            case .notModified:
                return .notModified
            case .delta(let delta):
                let (manifest, signature) = try Self.signedManifest(delta.manifestBase64, delta.signatureBase64, version: delta.version)
                return .delta(ModelDeltaDownload(
                    version: delta.version, parent: delta.parent, manifestBytes: manifest, signature: signature,
                    compressedDelta: delta.compressedDelta))
            case .checkpoint(let model):
                served = model
            }
        case .version(let number):
            do { served = try await service.model(version: number) } catch { throw Self.map(error) }
        case .unlessHolding(let contentHash, let number):
            if let number {
                do { served = try await service.model(version: number) } catch { throw Self.map(error) }
            } else {
                served = await service.currentModel()
            }
            if served.contentHash == contentHash {
                let (manifest, signature) = try Self.signedManifest(served.manifestBase64, served.signatureBase64, version: served.version)
                return .confirmed(ModelConfirmation(version: served.version, manifestBytes: manifest, signature: signature))
            }
        }
        let (manifest, signature) = try Self.signedManifest(served.manifestBase64, served.signatureBase64, version: served.version)
        return .model(ModelDownload(
            version: served.version, manifestBytes: manifest, signature: signature,
            compressedCheckpoint: served.compressedCheckpoint))
    }

    /// The manifest and signature bytes of a served version, as the HTTPS client decodes its headers.
    static func signedManifest(
        _ manifestBase64: String, _ signatureBase64: String?, version: UInt64
    ) throws(ConnectionError) -> (manifest: [UInt8], signature: [UInt8]) {
        guard let manifest = Data(base64Encoded: manifestBase64),
              let signature = signatureBase64.flatMap({ Data(base64Encoded: $0) })
        else {
            throw ConnectionError(.invalidResponse, "version \(version) has no signed manifest")
        }
        return ([UInt8](manifest), [UInt8](signature))
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
