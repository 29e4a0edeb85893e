import FleetWire
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import EdgeNode
@testable import SecureTransport

/// The HTTPS client when the coordinator closes connections under it: a node
/// must get its answer on a fresh connection, never fail a request because a
/// connection it was handed or kept is gone.
@Suite("HTTPS coordinator connection: connections the coordinator closes", .timeLimit(.minutes(30)))
struct ConnectionRecoveryTests {
    let fleet = TestFleet.shared
    static let beat = NodeHeartbeat(state: .idle, modelVersion: nil, region: nil, capturesPending: 0)

    @Test("a keep-alive connection the coordinator closes right after an answer is replaced: the next request succeeds on a new one")
    func closedAfterAnswer() async throws {
        let coordinator = try await ScriptedCoordinator(scripts: [.answerThenClose(1)])
        let connection = try fleet.connection(port: coordinator.port)
        _ = try await connection.heartbeat(Self.beat)
        _ = try await connection.heartbeat(Self.beat)
        await connection.close()
        await coordinator.stop()
        #expect(coordinator.connections == 2)
        #expect(coordinator.requests.map(\.connection) == [0, 1], "one heartbeat on each connection, none lost or doubled")
    }

    @Test("a keep-alive connection the coordinator drops as the next request arrives (its idle timeout struck) is replaced")
    func droppedOnReuse() async throws {
        let coordinator = try await ScriptedCoordinator(scripts: [.answerThenDropNext(1)])
        let connection = try fleet.connection(port: coordinator.port)
        _ = try await connection.heartbeat(Self.beat)
        _ = try await connection.heartbeat(Self.beat)
        await connection.close()
        await coordinator.stop()
        #expect(coordinator.connections == 2)
        #expect(coordinator.requests.map(\.answered) == [true, false, true])
    }

    @Test("a new connection the coordinator drops right after the handshake is replaced: the request is sent on the next")
    func droppedAfterHandshake() async throws {
        let coordinator = try await ScriptedCoordinator(scripts: [.closeAfterHandshake])
        let connection = try fleet.connection(port: coordinator.port)
        let reply = try await connection.heartbeat(Self.beat)
        #expect(reply.heartbeatInterval == 0.5)
        await connection.close()
        await coordinator.stop()
        #expect(coordinator.connections == 2)
        #expect(coordinator.requests.map(\.answered) == [true])
    }

    @Test("a coordinator that drops every connection costs a bounded number of them and a connectionClosed transport failure")
    func droppedEveryTime() async throws {
        let coordinator = try await ScriptedCoordinator(scripts: [], otherwise: .closeAfterHandshake)
        let connection = try fleet.connection(port: coordinator.port)
        do throws(ConnectionError) {
            _ = try await connection.pollTask(waitSeconds: 0)
            Issue.record("nothing is ever answered")
        } catch {
            #expect(error.code == .connectionClosed && error.isTransportFailure, "\(error)")
        }
        await connection.close()
        await coordinator.stop()
        #expect(coordinator.connections == HTTPSCoordinatorConnection.maxAttempts)
    }

    /// Answers an upload the way the coordinator does: 202 for the node's first update of the round, 409 `duplicate_update` after.
    static let uploads: ScriptedCoordinator.Answer = { request, earlier in
        if earlier.contains(where: { $0.method == "PUT" && $0.path == request.path }) {
            return (409, #"{"error":"duplicate_update","message":"node car-7 already sent its update for round 5","current_round":5}"#)
        }
        return (202, #"{"round":5,"accepted_updates":3}"#)
    }

    @Test("an upload whose answer was lost is sent again, and the coordinator's duplicate_update then means it was taken")
    func uploadAnswerLost() async throws {
        let coordinator = try await ScriptedCoordinator(scripts: [.answerThenDropNext(0)], answer: Self.uploads)
        let connection = try fleet.connection(port: coordinator.port)
        let body: [UInt8] = Array(repeating: 7, count: 4_096)
        let receipt = try await connection.uploadUpdate(round: 5, compressedDelta: body)
        #expect(receipt.round == 5)
        await connection.close()
        await coordinator.stop()
        let requests = coordinator.requests
        #expect(requests.map(\.method) == ["PUT", "PUT"])
        #expect(requests.map(\.answered) == [false, true])
        #expect(requests.allSatisfy { $0.body == body }, "the same update both times")
    }

    @Test("a duplicate_update without a lost answer before it stays a round conflict")
    func uploadDuplicate() async throws {
        let coordinator = try await ScriptedCoordinator(scripts: [], answer: Self.uploads)
        let connection = try fleet.connection(port: coordinator.port)
        _ = try await connection.uploadUpdate(round: 5, compressedDelta: [1, 2, 3])
        do throws(ConnectionError) {
            _ = try await connection.uploadUpdate(round: 5, compressedDelta: [1, 2, 3])
            Issue.record("the node sent its update twice: the second is a conflict")
        } catch {
            #expect(error.code == .roundConflict && error.errorCode == "duplicate_update")
        }
        await connection.close()
        await coordinator.stop()
        #expect(coordinator.connections == 1)
    }

    /// A channel that is open until closed, for the handshake's time bound without a peer.
    static func openChannel() async throws -> any Channel {
        try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    }

    /// Returns once every task `channel`'s event loop had scheduled to run within `amount` from now has run.
    ///
    /// An event loop runs scheduled tasks in the order of their deadlines, so a task scheduled
    /// later with a later deadline runs after them however slow the machine is.
    static func passed(_ amount: TimeAmount, on channel: any Channel) async throws {
        try await channel.eventLoop.scheduleTask(in: amount) {}.futureResult.get()
    }

    @Test("a handshake that completed in time is never cut by the connect timeout, however late the node looks at it")
    func handshakeInTime() async throws {
        let channel = try await Self.openChannel()
        let handshake = channel.eventLoop.makePromise(of: TLSConnectionInfo.self)
        // The event loop completes the handshake first; the node's task bounds it when it next runs.
        handshake.succeed(TLSConnectionInfo(protocolVersion: "TLSv1.3", cipherSuite: "TLS_AES_256_GCM_SHA384"))
        HTTPSCoordinatorConnection.limitHandshake(handshake, of: channel, to: .milliseconds(10))
        // The task has not looked at the handshake again (it waits for a thread) when the time bound passes.
        try await Self.passed(.milliseconds(50), on: channel)
        #expect(channel.isActive, "the connection that shook hands in time is still open")
        try await channel.close()
    }

    @Test("a handshake that does not complete in time fails with a timeout and closes its connection")
    func handshakeLate() async throws {
        let channel = try await Self.openChannel()
        let handshake = channel.eventLoop.makePromise(of: TLSConnectionInfo.self)
        HTTPSCoordinatorConnection.limitHandshake(handshake, of: channel, to: .milliseconds(5))
        await #expect(throws: ConnectionError(.timedOut, "")) { try await handshake.futureResult.get() }
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }
}
