import FleetWire
import Foundation
import NIOCore
import PolicyNetwork
import Testing
@testable import EdgeNode

/// The HTTPS client against a coordinator double on 127.0.0.1 behind mutual TLS.
@Suite("HTTPS coordinator connection", .timeLimit(.minutes(30)))
struct ConnectionTests {
    let fleet = TestFleet.shared

    @Test("a heartbeat carries the node's certificate identity and its state, and the reply is decoded")
    func heartbeat() async throws {
        let state = FakeState()
        await state.publish(try fleet.publish(version: 3))
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            let reply = try await connection.heartbeat(
                NodeHeartbeat(state: .adapting, modelVersion: 2, region: "alpine", capturesPending: 5))
            #expect(reply == HeartbeatReply(currentVersion: 3, openRound: nil, heartbeatInterval: 0.5))
            await connection.close()
        }
        #expect(await state.nodes == ["car-7"])
        #expect(await state.heartbeats == [NodeHeartbeat(state: .adapting, modelVersion: 2, region: "alpine", capturesPending: 5)])
    }

    @Test("requests reuse one keep-alive connection")
    func keepAlive() async throws {
        let state = FakeState()
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            for _ in 0..<4 {
                _ = try await connection.heartbeat(NodeHeartbeat(state: .idle, modelVersion: nil, region: nil, capturesPending: 0))
            }
            _ = try await connection.pollTask(waitSeconds: 0)
            await connection.close()
        }
        #expect(await state.heartbeats.count == 4)
        #expect(await state.clientPorts.count == 1)
    }

    @Test("the task long poll answers nil on 204 and the assignment on 200")
    func taskPoll() async throws {
        let state = FakeState()
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            #expect(try await connection.pollTask(waitSeconds: 0) == nil)
            await state.setTask(TaskAssignment(round: 4, baseVersion: 2, deadlineSeconds: 30))
            let task = try await connection.pollTask(waitSeconds: 1)
            #expect(task?.round == 4)
            #expect(task?.baseVersion == 2)
            await connection.close()
        }
    }

    @Test("the model is fetched with its signed headers; If-None-Match of the current version gives 304")
    func modelFetch() async throws {
        let state = FakeState()
        let published = try fleet.publish(version: 2)
        await state.publish(published)
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            #expect(try await connection.fetchModel(.current(ifNoneMatch: nil)) == .model(published.download))
            #expect(try await connection.fetchModel(.version(2)) == .model(published.download))
            #expect(try await connection.fetchModel(.current(ifNoneMatch: 2)) == .notModified)
            await #expect(throws: ConnectionError(.refused, "")) { _ = try await connection.fetchModel(.version(9)) }
            await connection.close()
        }
    }

    @Test("uploads: 202 gives the receipt; 409 is a round conflict naming the open round; 400 a refusal; 503 a transport failure")
    func uploadOutcomes() async throws {
        let state = FakeState()
        await state.setTask(TaskAssignment(round: 5, baseVersion: 1, deadlineSeconds: 30))
        let delta = PolicyDelta(
            architecture: fleet.basePolicy.architecture.hash, baseVersion: 1, round: 5, nodeID: "car-7", tensors: [],
            routingCounts: Array(repeating: 0, count: fleet.basePolicy.experts.count), metadata: DeltaMetadata())
        let body = try DeltaCodec.encodeCompressed(delta)
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            let receipt = try await connection.uploadUpdate(round: 5, compressedDelta: body)
            #expect(receipt.round == 5 && receipt.acceptedUpdates == 1)

            do throws(ConnectionError) {
                _ = try await connection.uploadUpdate(round: 4, compressedDelta: body)
                Issue.record("a closed round must be refused")
            } catch {
                #expect(error.code == .roundConflict)
                #expect(error.currentRound == 5)
                #expect(error.errorCode == "round_closed")
                #expect(!error.isTransportFailure)
            }
            do throws(ConnectionError) {
                _ = try await connection.uploadUpdate(round: 5, compressedDelta: [1, 2, 3])
                Issue.record("garbage must be refused")
            } catch {
                #expect(error.code == .refused && error.status == 400 && !error.isTransportFailure)
            }
            await state.setUploadStatus(503)
            do throws(ConnectionError) {
                _ = try await connection.uploadUpdate(round: 5, compressedDelta: body)
                Issue.record("a 503 must fail")
            } catch {
                #expect(error.code == .serverUnavailable && error.isTransportFailure)
            }
            await connection.close()
        }
    }

    @Test("an answer larger than the bound is refused without being kept")
    func responseBound() async throws {
        let state = FakeState()
        await state.setHeartbeatPadding(4_096)
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port) { $0.maxControlResponseBytes = 1_024 }
            await #expect(throws: ConnectionError(.responseTooLarge, "")) {
                _ = try await connection.heartbeat(NodeHeartbeat(state: .idle, modelVersion: nil, region: nil, capturesPending: 0))
            }
            // The next request opens a fresh connection and works.
            await state.setHeartbeatPadding(0)
            _ = try await connection.heartbeat(NodeHeartbeat(state: .idle, modelVersion: nil, region: nil, capturesPending: 0))
            await connection.close()
        }
    }

    @Test("a coordinator that does not answer in time gives a timeout, a transport failure")
    func timeout() async throws {
        let state = FakeState()
        await state.setPollDelay(3)
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port) { $0.requestTimeout = .milliseconds(300) }
            do throws(ConnectionError) {
                _ = try await connection.pollTask(waitSeconds: 0)
                Issue.record("the poll must time out")
            } catch {
                #expect(error.code == .timedOut && error.isTransportFailure)
            }
            await connection.close()
        }
    }

    @Test("no coordinator listening is a connect failure, a transport failure")
    func connectRefused() async throws {
        let port = try await FakeCoordinator.serve(FakeState()) { $0 }  // a port that is free again now
        let connection = try fleet.connection(port: port)
        do throws(ConnectionError) {
            _ = try await connection.pollTask(waitSeconds: 0)
            Issue.record("nothing listens there")
        } catch {
            #expect(error.code == .connectFailed && error.isTransportFailure)
        }
    }

    @Test("coordinator URLs", arguments: [
        ("https://127.0.0.1:8443", "127.0.0.1", 8443),
        ("https://coordinator.example/", "coordinator.example", 8443),
        ("https://[::1]:9000", "::1", 9000),
    ])
    func urls(_ url: String, _ host: String, _ port: Int) throws {
        let configuration = try ConnectionConfiguration(url: url)
        #expect(configuration.host == host && configuration.port == port)
    }

    @Test("bad coordinator URLs are refused with a reason", arguments: [
        "http://127.0.0.1:8443", "https://", "https://host:0", "https://host:port", "https://host/v1",
    ])
    func badURLs(_ url: String) {
        #expect(throws: ConnectionError(.invalidConfiguration, "")) { _ = try ConnectionConfiguration(url: url) }
    }
}
