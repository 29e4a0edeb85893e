import Testing
@testable import SecureTransport

/// The connection rules, driven without sockets or OpenSSL.
@Suite("TLS state machine")
struct TLSStateMachineTests {
    let failure = TLSError(.handshakeFailed, "test")

    func active() -> TLSStateMachine {
        var machine = TLSStateMachine()
        _ = machine.channelActive()
        _ = machine.handshakeStepped(.complete)
        return machine
    }

    @Test("idle → handshaking → active, with handshake steps in between")
    func handshakeHappyPath() {
        var machine = TLSStateMachine()
        #expect(machine.state == .idle)
        #expect(machine.channelActive() == .stepHandshake)
        #expect(machine.state == .handshaking)
        #expect(machine.handshakeStepped(.wantRead) == .flushAndRead)
        #expect(machine.ciphertextReceived() == .stepHandshake)
        #expect(machine.handshakeStepped(.complete) == .completeHandshake)
        #expect(machine.state == .active)
        #expect(machine.ciphertextReceived() == .decode)
    }

    @Test("writes before the handshake completes are buffered, then queued and encrypted on flush")
    func writesBeforeHandshake() {
        var machine = TLSStateMachine()
        #expect(machine.write() == .bufferWrite)
        _ = machine.channelActive()
        #expect(machine.write() == .bufferWrite)
        #expect(machine.flush() == .none)
        _ = machine.handshakeStepped(.complete)
        #expect(machine.write() == .queueWrite)
        #expect(machine.flush() == .encryptAndFlush)
    }

    @Test("a failed handshake step closes with the error", arguments: [
        EngineResult.failed(TLSError(.peerCertificateRejected, "x")), .closed,
    ])
    func handshakeFailure(_ result: EngineResult) {
        var machine = TLSStateMachine()
        _ = machine.channelActive()
        guard case .failAndClose(let error) = machine.handshakeStepped(result) else {
            Issue.record("expected failAndClose"); return
        }
        #expect(error.code == (result == .closed ? .handshakeFailed : .peerCertificateRejected))
        #expect(machine.state == .closed)
        #expect(machine.ciphertextReceived() == .none)
    }

    @Test("EOF without close_notify is an unclean shutdown when active, a handshake failure while handshaking")
    func eofWithoutCloseNotify() {
        var machine = active()
        #expect(machine.channelInactive() == .reportInactive(TLSError(.uncleanShutdown, "")))
        var handshaking = TLSStateMachine()
        _ = handshaking.channelActive()
        #expect(handshaking.channelInactive() == .reportInactive(TLSError(.handshakeFailed, "")))
        var inputClosed = active()
        #expect(inputClosed.inputClosed() == .failAndClose(TLSError(.uncleanShutdown, "")))
    }

    @Test("closing sends close_notify, waits for the peer's, and refuses new writes")
    func localClose() {
        var machine = active()
        #expect(machine.closeRequested() == .sendCloseNotify)
        #expect(machine.state == .closing)
        #expect(machine.write() == .failWrite(TLSError(.writeAfterClose, "")))
        #expect(machine.closeRequested() == .none)
        #expect(machine.ciphertextReceived() == .stepShutdown)
        #expect(machine.shutdownStepped(.wantRead) == .flushAndRead)
        #expect(machine.shutdownStepped(.complete) == .closeChannel)
        #expect(machine.state == .closed)
        #expect(machine.channelInactive() == .reportInactive(nil))
    }

    @Test("a peer that never answers close_notify is cut off by the timeout")
    func closeTimeout() {
        var machine = active()
        _ = machine.closeRequested()
        #expect(machine.closeTimedOut() == .failAndClose(TLSError(.closeTimeout, "")))
        #expect(machine.closeTimedOut() == .none)
    }

    @Test("the peer's close_notify is answered and the channel closed")
    func peerClose() {
        var machine = active()
        #expect(machine.decoded(.closed) == .answerCloseNotify)
        #expect(machine.state == .closing)
        #expect(machine.channelInactive() == .reportInactive(nil))
    }

    @Test("a corrupt record fails the connection")
    func recordFailure() {
        var machine = active()
        let error = TLSError(.recordFailure, "bad mac")
        #expect(machine.decoded(.failed(error)) == .failAndClose(error))
        #expect(machine.decoded(.wantRead) == .none)
    }

    @Test("closing before the handshake completes closes at once")
    func closeDuringHandshake() {
        var machine = TLSStateMachine()
        _ = machine.channelActive()
        #expect(machine.closeRequested() == .closeChannel)
        #expect(machine.handshakeStepped(.complete) == .none)
    }
}
