/// The life of one TLS connection as a pure state machine:
/// idle → handshaking → active → closing → closed.
///
/// Why pure: the rules (what a byte of ciphertext means in each state, when
/// writes may be encrypted, what an EOF means) are the part that must be right,
/// and they are easiest to get right and to test when they are separate from
/// sockets and OpenSSL. ``TLSHandler`` reports events (the channel became
/// active, ciphertext arrived, an OpenSSL step finished) and carries out the
/// ``Action`` each event returns. Tests drive this struct alone.
struct TLSStateMachine {
    /// Where the connection is.
    enum State: Equatable {
        /// The channel is not active yet.
        case idle
        /// Handshake messages are being exchanged; application writes are buffered.
        case handshaking
        /// Application data flows both ways.
        case active
        /// A close_notify went out (or came in); waiting for the other side or the timeout.
        case closing
        /// Nothing more happens; late events are ignored.
        case closed
    }

    /// What the handler must do next.
    enum Action: Equatable {
        /// Nothing.
        case none
        /// Run one handshake step and report it with ``handshakeStepped(_:)``.
        case stepHandshake
        /// Ask the network for the peer's first flight; nothing to send yet (a server
        /// waits for the ClientHello before it needs a TLS engine at all).
        case awaitPeer
        /// Flush the ciphertext the engine produced and ask the network for more.
        case flushAndRead
        /// The handshake finished: publish the connection facts, encrypt the buffered
        /// writes, then decode application data that arrived with the last flight.
        case completeHandshake
        /// Run the decode loop and report it with ``decoded(_:)``.
        case decode
        /// Keep the plaintext write until the handshake completes.
        case bufferWrite
        /// Queue the plaintext write; it is encrypted on flush.
        case queueWrite
        /// Encrypt the queued writes and flush the ciphertext.
        case encryptAndFlush
        /// Fail the write: the connection is closing or closed.
        case failWrite(TLSError)
        /// Send close_notify, flush it, and start the close timer.
        case sendCloseNotify
        /// Answer the peer's close_notify with ours, flush, and close the channel.
        case answerCloseNotify
        /// Run a shutdown step (more ciphertext arrived while closing); report with ``shutdownStepped(_:)``.
        case stepShutdown
        /// Flush any alert the engine produced, report the error, and close the channel.
        case failAndClose(TLSError)
        /// Close the channel now (close_notify exchange done, or nothing to exchange).
        case closeChannel
        /// The channel closed: fail what is pending with the error, if any, and pass the news on.
        case reportInactive(TLSError?)
    }

    private(set) var state: State = .idle

    /// The channel became active (or the handler joined an active channel).
    ///
    /// - Parameter awaitingPeer: True for a server: the peer speaks first, so no
    ///   handshake step runs (and no TLS engine need exist) until its bytes arrive.
    ///   An idle connection that never sends a byte then costs no OpenSSL memory.
    mutating func channelActive(awaitingPeer: Bool = false) -> Action {
        guard state == .idle else { return .none }
        state = .handshaking
        return awaitingPeer ? .awaitPeer : .stepHandshake
    }

    /// The handshake did not complete within its time limit.
    ///
    /// Why: a connection that never finishes its handshake holds a socket and
    /// memory without being anyone the server knows; closing it after a bound
    /// keeps idle or slow (slowloris) peers from accumulating.
    mutating func handshakeTimedOut() -> Action {
        switch state {
        case .idle, .handshaking:
            state = .closed
            return .failAndClose(TLSError(
                .handshakeTimeout, "the TLS handshake did not complete in time; the connection was closed"
            ))
        case .active, .closing, .closed:
            return .none
        }
    }

    /// Ciphertext from the peer is now in the engine.
    mutating func ciphertextReceived() -> Action {
        switch state {
        case .idle:
            state = .handshaking
            return .stepHandshake
        case .handshaking: return .stepHandshake
        case .active: return .decode
        case .closing: return .stepShutdown
        case .closed: return .none
        }
    }

    /// A handshake step finished.
    mutating func handshakeStepped(_ result: EngineResult) -> Action {
        guard state == .handshaking else { return .none }
        switch result {
        case .complete:
            state = .active
            return .completeHandshake
        case .wantRead, .wantWrite:
            return .flushAndRead
        case .closed:
            state = .closed
            return .failAndClose(TLSError(.handshakeFailed, "the peer closed the connection during the handshake"))
        case .failed(let error):
            state = .closed
            return .failAndClose(error)
        }
    }

    /// The decode loop stopped.
    mutating func decoded(_ result: EngineResult) -> Action {
        guard state == .active else { return .none }
        switch result {
        case .complete, .wantRead, .wantWrite:
            return .none
        case .closed:
            state = .closing
            return .answerCloseNotify
        case .failed(let error):
            state = .closed
            return .failAndClose(error)
        }
    }

    /// The application wrote plaintext.
    mutating func write() -> Action {
        switch state {
        case .idle, .handshaking: return .bufferWrite
        case .active: return .queueWrite
        case .closing, .closed:
            return .failWrite(TLSError(.writeAfterClose, "the connection is closing; the write was not sent"))
        }
    }

    /// The application flushed.
    mutating func flush() -> Action {
        state == .active ? .encryptAndFlush : .none
    }

    /// The application asked to close.
    mutating func closeRequested() -> Action {
        switch state {
        case .idle, .handshaking:
            state = .closed
            return .closeChannel
        case .active:
            state = .closing
            return .sendCloseNotify
        case .closing, .closed:
            return .none
        }
    }

    /// A shutdown step finished (our close_notify sent, waiting for the peer's).
    mutating func shutdownStepped(_ result: EngineResult) -> Action {
        guard state == .closing else { return .none }
        switch result {
        case .wantRead, .wantWrite:
            return .flushAndRead
        case .complete, .closed, .failed:
            // The exchange finished, or the peer broke it off; either way we are done.
            state = .closed
            return .closeChannel
        }
    }

    /// Encrypting a write failed.
    mutating func encryptionFailed(_ error: TLSError) -> Action {
        guard state != .closed else { return .none }
        state = .closed
        return .failAndClose(error)
    }

    /// The peer did not send close_notify in time.
    mutating func closeTimedOut() -> Action {
        guard state == .closing else { return .none }
        state = .closed
        return .failAndClose(TLSError(.closeTimeout, "the peer did not answer close_notify in time"))
    }

    /// The channel went inactive (TCP connection gone).
    mutating func channelInactive() -> Action {
        let previous = state
        state = .closed
        switch previous {
        case .handshaking:
            return .reportInactive(TLSError(.handshakeFailed, "the peer closed the connection during the handshake"))
        case .active:
            return .reportInactive(TLSError(.uncleanShutdown, "the peer closed the connection without sending close_notify"))
        case .idle, .closing, .closed:
            return .reportInactive(nil)
        }
    }

    /// The peer half-closed its side of TCP (EOF) while the channel stays open.
    mutating func inputClosed() -> Action {
        switch state {
        case .handshaking:
            state = .closed
            return .failAndClose(TLSError(.handshakeFailed, "the peer closed the connection during the handshake"))
        case .active:
            state = .closed
            return .failAndClose(TLSError(.uncleanShutdown, "the peer closed the connection without sending close_notify"))
        case .closing:
            state = .closed
            return .closeChannel
        case .idle, .closed:
            return .none
        }
    }
}
