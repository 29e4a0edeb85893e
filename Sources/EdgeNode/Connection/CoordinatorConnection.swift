public import FleetWire

/// The node's side of the coordinator API, whatever carries it.
///
/// Why a protocol: the agent needs four conversations — heartbeat, task
/// long-poll, model download, update upload — and nothing about how they
/// travel. ``HTTPSCoordinatorConnection`` carries them over HTTP/1.1 and
/// mutual TLS; a fleet simulation can plug in an in-memory implementation
/// that calls the coordinator service directly. Every method throws a
/// ``ConnectionError`` whose ``ConnectionError/isTransportFailure`` tells the
/// caller whether the same request is worth repeating.
public protocol CoordinatorConnection: Sendable {
    /// `POST /v1/heartbeat`.
    func heartbeat(_ heartbeat: NodeHeartbeat) async throws(ConnectionError) -> HeartbeatReply

    /// `GET /v1/task?wait=` — waits up to `waitSeconds` for work; nil when there is none (204).
    func pollTask(waitSeconds: Int) async throws(ConnectionError) -> TaskAssignment?

    /// `GET /v1/model` or `GET /v1/models/{version}`.
    func fetchModel(_ request: ModelRequest) async throws(ConnectionError) -> ModelFetch

    /// `PUT /v1/rounds/{round}/updates` with a zstd-compressed delta container.
    func uploadUpdate(round: UInt64, compressedDelta: [UInt8]) async throws(ConnectionError) -> UpdateReceipt

    /// Closes whatever the connection holds open; later calls may reconnect.
    func close() async
}
