import Foundation
import NIOCore
import NIOPosix
import SecureTransport

/// `swift run -c release tls-benchmark [--seconds S] [--rounds R] [--bulk-mb M]`
///
/// Our OpenSSL handler on SwiftNIO (one event loop) side by side with
/// `openssl s_server` on loopback, both with mutual TLS 1.3 (P-256 certificates
/// from the fleet CA), both loaded by the same client, `openssl s_time`:
/// full handshakes per second (`-new`, no resumption) and bulk MB/s (`-www`
/// fetching an M MB file per connection). Rounds alternate between the two
/// servers; medians and the ratio ours / OpenSSL are printed.
@main
enum TLSBenchmark {
    static func main() async {
        do {
            try await run()
        } catch {
            say("tls-benchmark failed: \(error)")
            exit(1)
        }
    }

    static func run() async throws {
        let options = Options(CommandLine.arguments.dropFirst())
        guard Peers.openssl != nil else {
            say("tls-benchmark: the openssl binary is not installed; nothing to compare with")
            return
        }
        let directory = NSTemporaryDirectory() + "tls-benchmark-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let authority = try FleetCertificateAuthority.create()
        let server = try authority.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        let node = try authority.issueNodeCertificate(nodeID: "bench-1")
        try authority.write(certificateFile: directory + "/ca.pem", keyFile: directory + "/ca.key")
        try server.write(certificateFile: directory + "/server.pem", keyFile: directory + "/server.key")
        try node.write(certificateFile: directory + "/node.pem", keyFile: directory + "/node.key")
        let bulkBytes = options.bulkMegabytes * 1_000_000
        var words = [UInt64](repeating: 0, count: bulkBytes / 8)
        var state: UInt64 = 0x5EED
        words.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                buffer[index] = state
            }
        }
        let body = words.withUnsafeBytes { ByteBuffer(bytes: $0) }
        try words.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: directory + "/bulk.bin")) }

        var configuration = TLSConfiguration.server(
            certificateChain: [server.certificate], privateKey: server.privateKey, trustRoots: [authority.certificate],
            revocationList: RevocationList(path: directory + "/revoked.txt")
        )
        configuration.closeTimeout = .seconds(30)
        let context = try TLSContext(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bodyCopy = body
        let ours = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: context), FileResponder(body: bodyCopy),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let ourPort = ours.localAddress!.port!
        if options.serveSeconds > 0 {
            say("serving on 127.0.0.1:\(ourPort) from \(directory) for \(options.serveSeconds) s")
            try await Task.sleep(for: .seconds(options.serveSeconds))
            return
        }
        let peerPort = Peers.freePort()
        let peer = try Peers.startSServer(port: peerPort, directory: directory)
        // s_server ignores SIGTERM while it waits in accept(); SIGKILL it.
        defer { kill(peer.processIdentifier, SIGKILL) }
        guard Peers.waitUntilListening(peerPort) else { throw BenchmarkError("openssl s_server did not start") }

        say("tls-benchmark: \(options.rounds) rounds × \(options.seconds) s per measurement, bulk file \(options.bulkMegabytes) MB")
        say("client: openssl s_time -new (full TLS 1.3 handshakes with a client certificate), servers on 127.0.0.1")
        var handshakes: [String: [Double]] = [:]
        var bulk: [String: [Double]] = [:]
        for round in 1...options.rounds {
            for (name, port) in [("ours", ourPort), ("openssl", peerPort)] {
                let h = try Peers.sTime(port: port, directory: directory, seconds: options.seconds, page: nil)
                let b = try Peers.sTime(port: port, directory: directory, seconds: options.seconds, page: "/bulk.bin")
                guard b.bytesPerConnection >= bulkBytes else {
                    throw BenchmarkError("\(name) served \(b.bytesPerConnection) bytes per connection, expected \(bulkBytes)")
                }
                handshakes[name, default: []].append(h.connectionsPerSecond)
                bulk[name, default: []].append(b.megabytesPerSecond)
                say(String(format: "round %d %-8@ %8.1f handshakes/s  %8.1f MB/s", round, name as NSString, h.connectionsPerSecond, b.megabytesPerSecond))
            }
        }
        let hOurs = median(handshakes["ours"]!), hPeer = median(handshakes["openssl"]!)
        let bOurs = median(bulk["ours"]!), bPeer = median(bulk["openssl"]!)
        say("")
        say("| measurement | ours (SwiftNIO + OpenSSL handler) | openssl s_server | ratio |")
        say("| --- | ---: | ---: | ---: |")
        say(String(format: "| full handshakes/s (mTLS 1.3, P-256) | %.0f | %.0f | %.0f%% |", hOurs, hPeer, 100 * hOurs / hPeer))
        say(String(format: "| bulk MB/s (%d MB per connection) | %.0f | %.0f | %.0f%% |", options.bulkMegabytes, bOurs, bPeer, 100 * bOurs / bPeer))
        try await ours.close()
        try await group.shutdownGracefully()
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// Command-line options (`--seconds`, `--rounds`, `--bulk-mb`).
struct Options {
    var seconds = 5
    var rounds = 3
    var bulkMegabytes = 64
    var serveSeconds = 0

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next().flatMap(Int.init)
            switch flag {
            case "--seconds": seconds = value ?? seconds
            case "--rounds": rounds = value ?? rounds
            case "--bulk-mb": bulkMegabytes = value ?? bulkMegabytes
            case "--serve": serveSeconds = value ?? 60
            default: say("tls-benchmark: ignoring unknown option \(flag)")
            }
        }
    }
}

/// Prints a line at once (stdout is block-buffered when piped; progress should show as it happens).
func say(_ line: String = "") {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
