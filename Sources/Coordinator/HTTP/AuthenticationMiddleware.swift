import Hummingbird
import SecureTransport

/// Refuses requests without a verified node identity, and those whose
/// certificate is revoked (403).
///
/// Why per request rather than only at the handshake: a node's certificate
/// can be revoked while it holds a keep-alive connection open, and a node
/// refused with a readable 403 `forbidden` tells its operator what happened,
/// where a failed handshake says only "certificate revoked" in a TLS alert.
/// The revocation list is re-read when its file changes (one `stat` per request).
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = CoordinatorRequestContext
    let revocationList: RevocationList?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let identity = context.identity else {
            throw CoordinatorError(.forbidden, "a client certificate issued by the fleet CA naming fleet://node/<id> is required")
        }
        if let revocationList, revocationList.isRevoked(serialHex: identity.certificateSerial) {
            throw CoordinatorError(.forbidden, "the certificate of node \(identity.nodeID) (serial \(identity.certificateSerial)) is revoked")
        }
        return try await next(request, context)
    }
}
