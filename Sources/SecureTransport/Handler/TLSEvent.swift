/// User inbound events the ``TLSHandler`` sends up the pipeline.
public enum TLSEvent: Sendable, Equatable {
    /// The handshake completed; application data may flow.
    case handshakeCompleted(TLSConnectionInfo)
}
