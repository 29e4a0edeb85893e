public import NIOCore

/// A SwiftNIO channel handler that speaks TLS through OpenSSL, in the server or
/// client role of its ``TLSContext``.
///
/// Why this shape: ciphertext read from the network goes into the engine, one
/// step of the ``TLSStateMachine`` runs (handshake, decode loop or shutdown),
/// and whatever ciphertext the engine produced is flushed. Plaintext written
/// before the handshake completes is kept in order and sent after it; writes
/// are encrypted on flush. Backpressure: the handler decodes only what the
/// network delivered and asks the network for more only when the application
/// reads (or the handshake needs it), so a slow reader stops the socket reads
/// instead of growing buffers here; outbound writability is the channel's own.
///
/// Errors (a ``TLSError``) are fired with `fireErrorCaught` and the channel is
/// closed; an EOF without close_notify is reported as
/// ``TLSError/Code/uncleanShutdown``.
///
/// Memory before the handshake: a server's OpenSSL connection (`SSL*`, its
/// memory BIO and record buffers, together tens of kilobytes once a handshake
/// step has run) is created only when the client's first bytes arrive, so a
/// connection that is accepted and then sits silent costs the handler a few
/// hundred bytes. An optional handshake timeout closes connections that do not
/// complete the handshake in time.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// The most plaintext decoded into one buffer passed up the pipeline.
    static let plaintextChunk = 64 * 1024
    /// How much plaintext is encrypted before the ciphertext is handed to the channel.
    ///
    /// Three full records: their ciphertext (48 KiB + 3 × 22 bytes) fits a 64 KiB
    /// buffer. `ByteBuffer` rounds capacities up to a power of two, and 128 KiB
    /// would cross glibc's mmap threshold, turning every chunk into an
    /// mmap/munmap pair and a page fault per 4 KiB.
    static let encryptChunk = 48 * 1024

    private var machine = TLSStateMachine()
    /// The OpenSSL connection: created in `init` for a client (it speaks first),
    /// on the first ciphertext for a server. Every use below is on a path that
    /// runs only after ciphertext arrived or the handshake started.
    private var engine: TLSEngine!
    private let tlsContext: TLSContext
    private let configuration: TLSConfiguration
    /// Closes the connection if the handshake has not completed by then (nil: no limit).
    private let handshakeTimeout: TimeAmount?
    private var handshakeTimer: Scheduled<Void>?
    private var pendingWrites = CircularBuffer<(buffer: ByteBuffer, promise: EventLoopPromise<Void>?)>()
    private var bufferedBytes = 0
    private var flushRequested = false
    private var handshakePromise: EventLoopPromise<TLSConnectionInfo>?
    private var closePromise: EventLoopPromise<Void>?
    private var closeTimer: Scheduled<Void>?
    /// True while ``encryptPending(_:)`` runs (it can be re-entered through the pipeline).
    private var encrypting = false
    /// A close arrived while encrypting; close_notify goes out when the queue is empty.
    private var closeNotifyDeferred = false
    /// Ciphertext buffers the channel has finished writing, kept for reuse.
    ///
    /// Why: a fresh 64 KiB buffer per encrypted chunk makes the allocator hand
    /// memory back to the kernel and fault it in again; in a bulk transfer that
    /// cost 10–15 % of the time. Reusing a few buffers removes it.
    ///
    /// At most ``sparePoolLimit`` buffers (1 MiB) are kept while writes are in
    /// flight; once the channel has written everything, the pool shrinks to
    /// ``sparePoolIdle`` so an idle connection holds little memory.
    private var sparePool: [ByteBuffer] = []
    static let sparePoolLimit = 16
    static let sparePoolIdle = 2
    /// Ciphertext writes handed to the channel and not yet completed.
    private var writesInFlight = 0

    /// The facts of the completed handshake (nil until then).
    public private(set) var connectionInfo: TLSConnectionInfo?

    /// Creates a handler for one connection.
    /// - Parameters:
    ///   - context: The shared TLS context (its role decides server or client).
    ///   - serverHostname: Clients: the DNS name or IP address the server's
    ///     certificate must match (names are also sent as SNI).
    ///   - handshakePromise: Completed with the connection facts when the
    ///     handshake succeeds, failed with the ``TLSError`` when it does not.
    ///   - handshakeTimeout: Closes the connection with
    ///     ``TLSError/Code/handshakeTimeout`` if the handshake has not completed
    ///     this long after the channel became active (nil: no limit).
    public init(
        context: TLSContext,
        serverHostname: String? = nil,
        handshakePromise: EventLoopPromise<TLSConnectionInfo>? = nil,
        handshakeTimeout: TimeAmount? = nil
    ) throws(TLSError) {
        if context.configuration.role == .client && context.configuration.verifyPeer && serverHostname == nil {
            throw TLSError(.invalidConfiguration, "serverHostname: a verifying client must name the server it expects")
        }
        if context.configuration.role == .client {
            engine = try TLSEngine(context: context, serverHostname: serverHostname)
        }
        tlsContext = context
        configuration = context.configuration
        self.handshakePromise = handshakePromise
        self.handshakeTimeout = handshakeTimeout
    }

    /// Whether the OpenSSL connection exists yet (a server creates it on the client's first bytes).
    var hasEngine: Bool { engine != nil }

    /// Creates the server's engine on first use; false (and the channel closing) when OpenSSL fails.
    private func ensureEngine(_ context: ChannelHandlerContext) -> Bool {
        if engine != nil { return true }
        do {
            engine = try TLSEngine(context: tlsContext, serverHostname: nil)
            return true
        } catch {
            perform(machine.encryptionFailed(error), context)
            return false
        }
    }

    private var awaitsPeer: Bool { configuration.role == .server }

    /// The channel is active: start the handshake (or wait for the client) and its timer.
    private func becameActive(_ context: ChannelHandlerContext) {
        let action = machine.channelActive(awaitingPeer: awaitsPeer)
        if action != .none, let timeout = handshakeTimeout {
            handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                self.handshakeTimer = nil
                self.perform(self.machine.handshakeTimedOut(), context)
            }
        }
        perform(action, context)
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { becameActive(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        let error = TLSError(.internalFailure, "the TLS handler was removed from the pipeline")
        failPending(error)
        closeTimer?.cancel()
        handshakeTimer?.cancel()
        let promise = closePromise
        closePromise = nil
        promise?.fail(error)
    }

    public func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        becameActive(context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        perform(machine.channelInactive(), context)
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let ciphertext = unwrapInboundIn(data)
        guard machine.state != .closed, ensureEngine(context) else { return }
        engine.receive(ciphertext)
        perform(machine.ciphertextReceived(), context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushCiphertext(context)
        context.fireChannelReadComplete()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            perform(machine.inputClosed(), context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let plaintext = unwrapOutboundIn(data)
        switch machine.write() {
        case .bufferWrite:
            guard bufferedBytes + plaintext.readableBytes <= configuration.maximumBufferedBytesBeforeHandshake else {
                promise?.fail(TLSError(
                    .bufferLimitExceeded,
                    "more than \(configuration.maximumBufferedBytesBeforeHandshake) bytes written before the handshake completed"
                ))
                return
            }
            bufferedBytes += plaintext.readableBytes
            pendingWrites.append((plaintext, promise))
        case .queueWrite:
            pendingWrites.append((plaintext, promise))
        case .failWrite(let error):
            promise?.fail(error)
        default:
            promise?.fail(TLSError(.internalFailure, "unexpected state for a write"))
        }
    }

    public func flush(context: ChannelHandlerContext) {
        flushRequested = true
        perform(machine.flush(), context)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        if machine.state == .closed {
            context.close(mode: mode, promise: promise)
            return
        }
        if let promise {
            if let existing = closePromise {
                existing.futureResult.cascade(to: promise)
            } else {
                closePromise = promise
            }
        }
        perform(machine.closeRequested(), context)
    }

    // MARK: Carrying out actions

    private func perform(_ action: TLSStateMachine.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .none, .bufferWrite, .queueWrite:
            break
        case .stepHandshake:
            perform(machine.handshakeStepped(engine.handshake()), context)
        case .flushAndRead:
            flushCiphertext(context)
            context.read()
        case .awaitPeer:
            context.read()
        case .completeHandshake:
            completeHandshake(context)
        case .decode:
            decode(context)
        case .encryptAndFlush:
            encryptPending(context)
        case .failWrite:
            break
        case .sendCloseNotify:
            sendCloseNotify(context)
        case .answerCloseNotify:
            _ = engine.shutdown()
            perform(.closeChannel, context)
        case .stepShutdown:
            perform(machine.shutdownStepped(drainUntilCloseNotify()), context)
        case .failAndClose(let error):
            flushCiphertext(context)
            closeTimer?.cancel()
            handshakeTimer?.cancel()
            failPending(error)
            context.fireErrorCaught(error)
            let promise = closePromise
            closePromise = nil
            context.close(promise: promise)
        case .closeChannel:
            flushCiphertext(context)
            closeTimer?.cancel()
            handshakeTimer?.cancel()
            failPending(TLSError(.writeAfterClose, "the connection closed before the write was sent"))
            let promise = closePromise
            closePromise = nil
            context.close(promise: promise)
        case .reportInactive(let error):
            closeTimer?.cancel()
            handshakeTimer?.cancel()
            failPending(error ?? TLSError(.writeAfterClose, "the connection closed before the write was sent"))
            // The peer closed the socket while we waited for its close_notify: our close is done.
            let promise = closePromise
            closePromise = nil
            promise?.succeed()
            if let error { context.fireErrorCaught(error) }
            context.fireChannelInactive()
        }
    }

    private func completeHandshake(_ context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let info = engine.connectionInfo()
        connectionInfo = info
        flushCiphertext(context)
        let promise = handshakePromise
        handshakePromise = nil
        promise?.succeed(info)
        context.fireUserInboundEventTriggered(TLSEvent.handshakeCompleted(info))
        if flushRequested, machine.state == .active { encryptPending(context) }
        bufferedBytes = 0
        // Application data may have arrived together with the last handshake flight.
        if machine.state == .active { decode(context) }
    }

    private func decode(_ context: ChannelHandlerContext) {
        while machine.state == .active {
            let capacity = min(Self.plaintextChunk, engine.unconsumedCiphertext + 16 * 1024)
            var plaintext = context.channel.allocator.buffer(capacity: capacity)
            let result = engine.read(into: &plaintext, upTo: capacity)
            if plaintext.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(plaintext)) }
            if result != .complete {
                perform(machine.decoded(result), context)
                break
            }
        }
    }

    /// Reads and discards application data while closing, until the peer's close_notify.
    private func drainUntilCloseNotify() -> EngineResult {
        var scratch = ByteBuffer()
        while true {
            scratch.clear()
            let result = engine.read(into: &scratch, upTo: Self.plaintextChunk)
            switch result {
            case .complete: continue
            case .closed: return engine.shutdown()
            default: return result
            }
        }
    }

    private func sendCloseNotify(_ context: ChannelHandlerContext) {
        if encrypting {
            closeNotifyDeferred = true
            return
        }
        // Writes already made go out before the close_notify.
        encryptPending(context)
        let result = engine.shutdown()
        flushCiphertext(context)
        switch result {
        case .wantRead, .wantWrite:
            closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.closeTimeout) {
                self.perform(self.machine.closeTimedOut(), context)
            }
            context.read()
        default:
            perform(machine.shutdownStepped(result), context)
        }
    }

    /// Encrypts every queued write and flushes the ciphertext.
    ///
    /// Writing to the channel can re-enter this handler (a flush makes the
    /// channel writable again, the application writes more, or closes). Writes
    /// made meanwhile are appended to the queue and picked up by the loop here;
    /// a close is deferred until the queue is empty, so close_notify always
    /// follows the last byte of data.
    private func encryptPending(_ context: ChannelHandlerContext) {
        guard !encrypting else { return }
        encrypting = true
        var first = true
        while first || !pendingWrites.isEmpty {
            first = false
            guard encryptQueued(context) else {
                encrypting = false
                return
            }
        }
        encrypting = false
        flushRequested = false
        if closeNotifyDeferred {
            closeNotifyDeferred = false
            sendCloseNotify(context)
        }
    }

    /// One pass of ``encryptPending(_:)``; false when encryption failed and the connection is closing.
    private func encryptQueued(_ context: ChannelHandlerContext) -> Bool {
        flushRequested = false
        var promises: [EventLoopPromise<Void>] = []
        while let (buffer, promise) = pendingWrites.popFirst() {
            if let promise { promises.append(promise) }
            var remaining = buffer
            while remaining.readableBytes > 0 {
                let count = min(remaining.readableBytes, Self.encryptChunk)
                let result = remaining.withUnsafeReadableBytes {
                    engine.write(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                }
                if case .failed(let error) = result {
                    promises.forEach { $0.fail(error) }
                    perform(machine.encryptionFailed(error), context)
                    return false
                }
                remaining.moveReaderIndex(forwardBy: count)
                if engine.pendingCiphertext >= Self.encryptChunk,
                   let ciphertext = engine.takeCiphertext(allocator: context.channel.allocator) {
                    writeRecycling(ciphertext, context, promises: [], flush: false)
                }
            }
        }
        bufferedBytes = 0
        guard let ciphertext = engine.takeCiphertext(allocator: context.channel.allocator) else {
            context.flush()
            promises.forEach { $0.succeed() }
            return true
        }
        writeRecycling(ciphertext, context, promises: promises, flush: true)
        return true
    }

    /// Writes a ciphertext buffer, completes `promises` with the write, and keeps the
    /// buffer for reuse once the channel has let go of it.
    private func writeRecycling(
        _ ciphertext: ByteBuffer, _ context: ChannelHandlerContext, promises: [EventLoopPromise<Void>], flush: Bool
    ) {
        let written = context.eventLoop.makePromise(of: Void.self)
        if flush {
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: written)
        } else {
            context.write(wrapOutboundOut(ciphertext), promise: written)
        }
        // Held in a variable the closure owns, so that once it is emptied our copy is
        // the only reference and `clear()` keeps the storage instead of allocating.
        var held: ByteBuffer? = ciphertext
        writesInFlight += 1
        written.futureResult.assumeIsolated().whenComplete { result in
            self.writesInFlight -= 1
            for promise in promises { promise.completeWith(result) }
            guard var spare = held else { return }
            held = nil
            if self.sparePool.count < Self.sparePoolLimit {
                spare.clear()
                self.sparePool.append(spare)
            }
            if self.writesInFlight == 0 && self.sparePool.count > Self.sparePoolIdle {
                self.sparePool.removeLast(self.sparePool.count - Self.sparePoolIdle)
            }
        }
        if engine.outbound.capacity == 0, let spare = sparePool.popLast() {
            engine.outbound = spare
        }
    }

    private func flushCiphertext(_ context: ChannelHandlerContext) {
        if let engine, let ciphertext = engine.takeCiphertext(allocator: context.channel.allocator) {
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: nil)
        }
    }

    private func failPending(_ error: TLSError) {
        while let (_, promise) = pendingWrites.popFirst() { promise?.fail(error) }
        bufferedBytes = 0
        if let promise = handshakePromise {
            handshakePromise = nil
            promise.fail(error)
        }
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
