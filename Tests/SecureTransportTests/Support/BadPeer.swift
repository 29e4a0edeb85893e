import NIOCore
import Testing
import NIOPosix
@testable import SecureTransport

/// The kinds of misbehaving clients the server must refuse while staying up.
enum BadPeer: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case noCertificate, foreignCA, expiredCertificate, revokedNode, tls12Only
    case plainHTTP, garbage, closeMidHandshake, truncatedRecord, corruptRecord

    var testDescription: String { rawValue }

    /// The error code the server must report.
    var expectedCode: TLSError.Code {
        switch self {
        case .noCertificate: .peerCertificateMissing
        case .foreignCA, .expiredCertificate: .peerCertificateRejected
        case .revokedNode: .certificateRevoked
        case .tls12Only, .plainHTTP, .garbage, .closeMidHandshake: .handshakeFailed
        case .truncatedRecord: .uncleanShutdown
        case .corruptRecord: .recordFailure
        }
    }

    /// Contexts built once per kind (building one per connection would measure the wrong thing).
    struct Contexts: Sendable {
        let byKind: [BadPeer: TLSContext]
        init(pki: TestPKI) throws {
            var contexts: [BadPeer: TLSContext] = [:]
            contexts[.noCertificate] = try TLSContext(configuration: pki.clientConfiguration(nil))
            contexts[.foreignCA] = try TLSContext(configuration: pki.clientConfiguration(pki.foreignNode))
            contexts[.expiredCertificate] = try TLSContext(configuration: pki.clientConfiguration(pki.expiredNode))
            contexts[.revokedNode] = try TLSContext(configuration: pki.clientConfiguration(pki.revokedNode))
            var old = pki.clientConfiguration(pki.node)
            old.minimumProtocolVersion = .tls12
            old.maximumProtocolVersion = .tls12
            contexts[.tls12Only] = try TLSContext(configuration: old)
            let good = try TLSContext(configuration: pki.clientConfiguration(pki.node))
            contexts[.truncatedRecord] = good
            contexts[.corruptRecord] = good
            contexts[.closeMidHandshake] = good
            byKind = contexts
        }
    }

    /// Seeded garbage so a failure can be replayed.
    static func garbage(seed: UInt64, count: Int) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
    }

    /// Runs one bad connection against `port` and returns when the client side is done.
    func run(group: any EventLoopGroup, port: Int, contexts: Contexts, seed: UInt64) async throws {
        switch self {
        case .plainHTTP:
            try await TestClient.sendRaw(group: group, port: port, bytes: Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        case .garbage:
            try await TestClient.sendRaw(group: group, port: port, bytes: Self.garbage(seed: seed, count: 517))
        case .closeMidHandshake:
            let engine = try TLSEngine(context: contexts.byKind[.closeMidHandshake]!, serverHostname: "localhost")
            _ = engine.handshake()
            let hello = engine.takeCiphertext(allocator: ByteBufferAllocator())!
            try await TestClient.sendRaw(group: group, port: port, bytes: Array(hello.readableBytesView.prefix(hello.readableBytes / 2)))
        case .truncatedRecord, .corruptRecord:
            let mangle: RecordMangler.Mode = self == .truncatedRecord ? .truncate : .corrupt
            let connection = try await TestClient.connect(
                group: group, port: port, context: contexts.byKind[self]!,
                below: { [RecordMangler(mode: mangle)] }
            )
            _ = try await connection.handshake.get()
            try await connection.channel.eventLoop.submit {
                try connection.channel.pipeline.syncOperations.handler(type: RecordMangler.self).armed = true
            }.get()
            connection.channel.writeAndFlush(ByteBuffer(string: "this record will not arrive intact"), promise: nil)
            _ = try await connection.received.get()
        default:
            let connection = try await TestClient.connect(group: group, port: port, context: contexts.byKind[self]!)
            connection.channel.writeAndFlush(ByteBuffer(string: "ping\n"), promise: nil)
            _ = try await connection.received.get()
        }
    }
}

/// Sits below the client's TLS handler; once armed, it cuts or corrupts the next record and closes.
final class RecordMangler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    enum Mode { case truncate, corrupt }
    let mode: Mode
    var armed = false

    init(mode: Mode) { self.mode = mode }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard armed else { return context.write(data, promise: promise) }
        armed = false
        var record = unwrapOutboundIn(data)
        switch mode {
        case .truncate:
            record = record.getSlice(at: record.readerIndex, length: record.readableBytes / 2)!
            context.writeAndFlush(wrapOutboundOut(record), promise: promise)
            context.close(promise: nil)
        case .corrupt:
            let index = record.readerIndex + record.readableBytes - 3
            record.setInteger(record.getInteger(at: index, as: UInt8.self)! ^ 0x5A, at: index)
            context.write(wrapOutboundOut(record), promise: promise)
        }
    }
}
