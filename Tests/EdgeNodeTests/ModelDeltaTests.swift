import FleetWire
import Foundation
import Logging
import PolicyNetwork
import Testing
@testable import EdgeNode

/// A node holding version k rebuilds version k + 1 from the published delta, or falls back to the checkpoint.
@Suite("model deltas on the node", .serialized, .timeLimit(.minutes(30)))
struct ModelDeltaTests {
    let fleet = TestFleet.shared

    /// Version 1 as served, and the policy a node that verified it holds.
    func parent() throws -> (model: PublishedModel, policy: MoEPolicy) {
        let model = try fleet.publish(version: 1)
        return (model, try MoEPolicy(checkpoint: model.checkpoint))
    }

    /// `delta` with its container replaced by `container` (re-encoded: a valid container, other content).
    func replacing(_ delta: ModelDeltaDownload, with container: PolicyDelta) throws -> ModelDeltaDownload {
        var changed = delta
        changed.compressedDelta = try DeltaCodec.encodeCompressed(container)
        return changed
    }

    /// The container with one quantized value moved by one step: still well formed, another model.
    func tampered(_ container: PolicyDelta) throws -> PolicyDelta {
        var container = container
        guard case .sparseInt8(let scales, let indices, var values) = container.tensors[0].payload else {
            throw AgentError(.invalidConfiguration, "expected a sparse int8 delta")
        }
        values[0] = values[0] == 127 ? 126 : values[0] + 1
        container.tensors[0].payload = .sparseInt8(scales: scales, indices: indices, values: values)
        return container
    }

    @Test("the delta applied to the held parent reproduces the signed checkpoint bit for bit")
    func roundTrip() throws {
        let (_, held) = try parent()
        let child = try fleet.publishDelta(version: 2, parent: held)
        let model = try fleet.verifier.verify(child.delta, parentVersion: 1, parent: held)
        #expect(model.version == 2)
        #expect(model.checkpoint == child.model.checkpoint)
        #expect(child.delta.compressedDelta.count * 20 < child.model.compressed.count)
    }

    @Test("a tampered, misdirected or damaged delta is refused with deltaRejected")
    func refused() throws {
        let (_, held) = try parent()
        let child = try fleet.publishDelta(version: 2, parent: held)

        // One quantized value changed; the container is still well formed, the rebuilt hash is not the signed one.
        let altered = try replacing(child.delta, with: try tampered(child.container))
        let error = #expect(throws: AgentError(.deltaRejected, "")) {
            _ = try fleet.verifier.verify(altered, parentVersion: 1, parent: held)
        }
        #expect(error?.message.contains("hash") == true, "\(error?.message ?? "")")

        // Applied to another parent than the one it was made from.
        var other = held
        var parameters = other.parameterSet()
        var scalars = parameters["experts.1.fc1.weight"]!.scalars
        scalars[3] += 0.01
        try parameters.replace("experts.1.fc1.weight", with: Tensor(shape: parameters.shape(of: "experts.1.fc1.weight")!, scalars: scalars))
        try other.load(parameters)
        #expect(throws: AgentError(.deltaRejected, "")) { _ = try fleet.verifier.verify(child.delta, parentVersion: 1, parent: other) }
        // The node holds another version than the manifest's parent.
        #expect(throws: AgentError(.deltaRejected, "")) { _ = try fleet.verifier.verify(child.delta, parentVersion: 3, parent: held) }
        // Not a container at all; a signature that does not verify.
        var garbage = child.delta
        garbage.compressedDelta = Array("not a delta".utf8)
        #expect(throws: AgentError(.deltaRejected, "")) { _ = try fleet.verifier.verify(garbage, parentVersion: 1, parent: held) }
        var unsigned = child.delta
        unsigned.signature[0] ^= 1
        #expect(throws: AgentError(.deltaRejected, "")) { _ = try fleet.verifier.verify(unsigned, parentVersion: 1, parent: held) }
    }

    /// A node on `data` against the fake coordinator on `port`, run while `body` runs and then stopped.
    func runningAgent(port: Int, data: URL, _ body: (EventLog) async throws -> Void) async throws -> EdgeNodeAgent {
        var logger = Logger(label: "test-node")
        logger.logLevel = .critical
        let agent = try EdgeNodeAgent(
            configuration: fleet.configuration(data: data), connection: try fleet.connection(port: port),
            verifier: fleet.verifier, logger: logger)
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await agent.run() }
            group.addTask { await log.drain(agent.events) }
            try await body(log)
            group.cancelAll()
            try await group.waitForAll()
        }
        return agent
    }

    @Test("over HTTPS, If-None-Match of the parent brings the delta with its signed headers; without it, the checkpoint")
    func connection() async throws {
        let (v1, held) = try parent()
        let child = try fleet.publishDelta(version: 2, parent: held)
        let state = FakeState()
        await state.publish(v1)
        await state.publish(child.model, delta: child.delta)
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            #expect(try await connection.fetchModel(.current(ifNoneMatch: 1)) == .delta(child.delta))
            #expect(try await connection.fetchModel(.current(ifNoneMatch: nil)) == .model(child.model.download))
            #expect(try await connection.fetchModel(.current(ifNoneMatch: 2)) == .notModified)
            await connection.close()
        }
    }

    @Test("the agent installs the next version from its delta, and falls back to the checkpoint when the delta is refused",
          arguments: [false, true])
    func agentPull(tampered: Bool) async throws {
        let (v1, held) = try parent()
        let child = try fleet.publishDelta(version: 2, parent: held)
        let delta = tampered ? try replacing(child.delta, with: try self.tampered(child.container)) : child.delta
        let state = FakeState()
        await state.publish(v1)
        let data = fleet.dataDirectory("delta-pull")
        try await FakeCoordinator.serve(state) { port in
            let agent = try await runningAgent(port: port, data: data) { log in
                await log.wait { $0.installed.contains(1) }
                await state.publish(child.model, delta: delta)
                await log.wait { $0.installed.contains(2) }
            }
            #expect(agent.live.snapshot?.policy.checkpoint() == child.model.checkpoint)
        }
        // Only a refused delta costs the checkpoint download.
        #expect(await state.versionRequests.contains(2) == tampered)
        #expect(try ModelStore(directory: data.appendingPathComponent("models")).load(verifier: fleet.verifier)?.version == 2)
    }

    @Test("a node provisioned with the published version's weights installs it from a 304 with the signed manifest; with other weights it downloads the checkpoint",
          arguments: [Float(0), 1e-3])
    func provisionedPull(perturb: Float) async throws {
        let published = try fleet.publish(version: 1, perturb: perturb)
        let state = FakeState()
        await state.publish(published)
        let data = fleet.dataDirectory("provisioned-pull")
        try await FakeCoordinator.serve(state) { port in
            let connection = try fleet.connection(port: port)
            let hash = ModelVerifier.contentHash(of: fleet.basePolicy.checkpoint())
            let answer = try await connection.fetchModel(.unlessHolding(contentHash: hash, version: nil))
            if perturb == 0 {
                #expect(answer == .confirmed(ModelConfirmation(version: 1, manifestBytes: published.manifestBytes, signature: published.signature)))
            } else {
                #expect(answer == .model(published.download))
            }
            await connection.close()

            // The node starts on the base policy the simulator content ships with.
            let agent = try await runningAgent(port: port, data: data) { log in await log.wait { $0.installed.contains(1) } }
            #expect(agent.live.snapshot?.policy.checkpoint() == published.checkpoint)
        }
        // The checkpoint crossed the wire only when the node's weights were not the version's
        // (once above, once for the agent).
        #expect(await state.checkpointsServed == (perturb == 0 ? [] : [1, 1]))
        #expect(try ModelStore(directory: data.appendingPathComponent("models")).load(verifier: fleet.verifier)?.version == 1)
    }
}
