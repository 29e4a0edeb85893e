import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SecureTransport

/// Every test that opens sockets or runs peers, one at a time, so that the
/// leak check counts only its own file descriptors.
@Suite("Network", .serialized)
enum NetworkTests {}

extension NetworkTests {
/// Our server and client against OpenSSL's own command-line peers.
@Suite("Interop with openssl s_client / s_server")
struct OpenSSLInteropTests {
    let pki = TestPKI.shared

    @Test("s_client with a node certificate gets through and the server sees its node id")
    func sClientWithCertificate() async throws {
        guard let openssl = ExternalTool.find("openssl") else {
            print("skipped: the openssl binary is not installed"); return
        }
        let server = try await TestServer(context: TLSContext(configuration: pki.serverConfiguration()), application: .greeting)
        let output = try await ExternalTool.run(openssl, [
            "s_client", "-connect", "127.0.0.1:\(server.port)", "-servername", "localhost",
            "-CAfile", pki.path("ca.pem"), "-cert", pki.path("node.pem"), "-key", pki.path("node.key"),
            "-verify_return_error", "-alpn", "http/1.1", "-ign_eof",
        ], input: Array("ping\n".utf8))
        try await server.stop()
        #expect(output.stdout.contains("hello car-7"), "\(output.all)")
        #expect(output.stdout.contains("TLSv1.3"))
        #expect(output.stdout.contains("ALPN protocol: http/1.1"))
        #expect(output.stdout.contains("Verify return code: 0 (ok)"))
    }

    @Test("s_client without a certificate is refused with a clear error")
    func sClientWithoutCertificate() async throws {
        guard let openssl = ExternalTool.find("openssl") else {
            print("skipped: the openssl binary is not installed"); return
        }
        let server = try await TestServer(context: TLSContext(configuration: pki.serverConfiguration()), application: .greeting)
        let output = try await ExternalTool.run(openssl, [
            "s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", pki.path("ca.pem"), "-ign_eof",
        ], input: Array("ping\n".utf8))
        let error = await server.nextError()
        try await server.stop()
        #expect(error?.code == .peerCertificateMissing, "\(String(describing: error))")
        #expect(!output.stdout.contains("hello"))
        #expect(output.all.contains("alert"), "\(output.all)")
    }

    @Test("s_client without a certificate works when the server does not ask for one")
    func sClientAnonymousWhenAllowed() async throws {
        guard let openssl = ExternalTool.find("openssl") else {
            print("skipped: the openssl binary is not installed"); return
        }
        var configuration = pki.serverConfiguration()
        configuration.clientAuthentication = .none
        let server = try await TestServer(context: TLSContext(configuration: configuration), application: .greeting)
        let output = try await ExternalTool.run(openssl, [
            "s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", pki.path("ca.pem"), "-ign_eof",
        ], input: Array("ping\n".utf8))
        try await server.stop()
        #expect(output.stdout.contains("hello anonymous"), "\(output.all)")
    }

    @Test("our client talks to openssl s_server -Verify (mutual TLS, ALPN, IP verification)")
    func clientAgainstSServer() async throws {
        guard let openssl = ExternalTool.find("openssl") else {
            print("skipped: the openssl binary is not installed"); return
        }
        let port = try FreePort.find()
        let peer = try ExternalTool.Background(openssl, [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.path("server.pem"), "-key", pki.path("server.key"),
            "-CAfile", pki.path("ca.pem"), "-Verify", "1", "-verify_return_error", "-alpn", "http/1.1", "-rev", "-naccept", "1",
        ])
        defer { peer.stop() }
        #expect(await peer.waitFor("ACCEPT"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = try TLSContext(configuration: pki.clientConfiguration(pki.node))
        let client = try await TestClient.connect(group: group, port: port, context: context, hostname: "127.0.0.1")
        let info = try await client.handshake.get()
        try await client.channel.writeAndFlush(ByteBuffer(string: "fleet\n"))
        let line = try await client.firstLine.get()
        try await client.channel.close()
        try await group.shutdownGracefully()
        #expect(info.protocolVersion == "TLSv1.3")
        #expect(info.applicationProtocol == "http/1.1")
        #expect(line == "teelf")
    }

    @Test("our client refuses a server whose certificate does not match the host name")
    func clientChecksHostname() async throws {
        let server = try await TestServer(context: TLSContext(configuration: pki.serverConfiguration()), application: .greeting)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = try TLSContext(configuration: pki.clientConfiguration(pki.node))
        let client = try await TestClient.connect(group: group, port: server.port, context: context, hostname: "coordinator.example")
        await #expect(throws: TLSError(.peerCertificateRejected, "")) { try await client.handshake.get() }
        try await server.stop()
        try await group.shutdownGracefully()
    }
}

}

/// Finds a free loopback port for a peer that cannot report its own.
enum FreePort {
    static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
