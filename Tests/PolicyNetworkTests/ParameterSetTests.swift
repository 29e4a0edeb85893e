import Testing
@testable import PolicyNetwork

@Suite("Parameter sets and architecture")
struct ParameterSetTests {
    static let architecture = try! PolicyArchitecture(inputs: 3, experts: 2, hidden: 4, topK: 1, actions: 2, activation: .relu)

    @Test func namesFollowTheCanonicalOrder() throws {
        let set = try MoEPolicy(architecture: Self.architecture, seed: 1).parameterSet()
        #expect(set.names == [
            "router.weight", "router.bias",
            "experts.0.fc1.weight", "experts.0.fc1.bias", "experts.0.fc2.weight", "experts.0.fc2.bias",
            "experts.1.fc1.weight", "experts.1.fc1.bias", "experts.1.fc2.weight", "experts.1.fc2.bias",
        ])
        #expect(set.shape(of: "router.weight") == [2, 3])
        #expect(set.shape(of: "experts.1.fc2.weight") == [2, 4])
        #expect(set.scalarCount == 2 * 3 + 2 + 2 * (4 * 3 + 4 + 2 * 4 + 2))
        #expect(Array(set.map(\.name)) == set.names)
        #expect(MoEPolicy.expertIndex(ofParameter: "experts.12.fc1.bias") == 12)
        #expect(MoEPolicy.expertIndex(ofParameter: "router.bias") == nil)
    }

    @Test func deltasAreSubtractionAndApplyingThemIsAddition() throws {
        let base = try MoEPolicy(architecture: Self.architecture, seed: 1)
        var local = base
        let trainer = MoETrainer(optimizer: SGD(learningRate: 0.1))
        try trainer.step(&local, inputs: randomTensor([8, 3], seed: 2), targets: .actions([0, 1, 0, 1, 1, 0, 0, 1]))
        let delta = try local.parameterSet().subtracting(base.parameterSet())
        #expect(delta.globalNorm > 0)
        let rebuilt = try base.parameterSet().adding(delta)
        for element in rebuilt {
            let expected = local.parameterSet()[element.name]!
            for i in 0..<expected.count { #expect(abs(element.tensor[i] - expected[i]) <= 1e-6 * max(1, abs(expected[i]))) }
        }
        let half = delta.scaled(by: 0.5)
        #expect(abs(half.globalNorm - delta.globalNorm / 2) < 1e-6)
        var sum = delta
        try sum.add(delta, scaledBy: -1)
        #expect(sum.globalNorm == 0)
        var applied = base
        try applied.load(rebuilt)
        #expect(applied.parameterSet() == rebuilt)
    }

    @Test func mismatchedSetsAreRefused() throws {
        let a = try MoEPolicy(architecture: Self.architecture, seed: 1).parameterSet()
        let b = try ParameterSet([("router.weight", Tensor(shape: [2, 3]))])
        #expect(throws: PolicyNetworkError(.layoutMismatch, "")) { try a.subtracting(b) }
        var c = a
        #expect(throws: PolicyNetworkError(.duplicateParameter, "")) { try c.append("router.bias", Tensor(shape: [2])) }
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) { try c.replace("router.bias", with: Tensor(shape: [3])) }
        #expect(throws: PolicyNetworkError(.unknownParameter, "")) { try c.withUnsafeBufferPointer("nope") { $0.count } }
        #expect(c == a)
        var policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let before = policy
        var wrongShape = a
        try wrongShape.remove("experts.1.fc1.bias")
        try wrongShape.append("experts.1.fc1.bias", Tensor(shape: [5]))
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) { try policy.load(wrongShape) }
        var extra = a
        try extra.append("experts.9.fc1.bias", Tensor(shape: [4]))
        #expect(throws: PolicyNetworkError(.unknownParameter, "")) { try policy.load(extra) }
        #expect(throws: PolicyNetworkError(.missingParameter, "")) { try policy.load(b) }
        #expect(policy == before)
    }

    @Test func expertSubsetsCarryOnlyThatExpert() throws {
        let policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        let subset = try policy.parameterSet(expert: 1)
        #expect(subset.names == ["experts.1.fc1.weight", "experts.1.fc1.bias", "experts.1.fc2.weight", "experts.1.fc2.bias"])
        try subset.withUnsafeBufferPointer("experts.1.fc1.bias") { values in
            #expect(Array(values) == policy.experts[1].fc1.bias.scalars)
        }
    }

    @Test func architectureIsCodableAndHashesStably() throws {
        let architecture = PolicyArchitecture.standard
        #expect(architecture.canonicalString == "moe-v1;inputs=64;experts=8;hidden=128;top_k=2;actions=6;activation=gelu")
        // FNV-1a 64 of the canonical string; a change here breaks every stored header.
        #expect(architecture.hash.count == 16)
        #expect(architecture.hash == PolicyArchitecture.standard.hash)
        #expect(architecture.hash != Self.architecture.hash)
        let encoded = try JSONEncoderShim.encode(architecture)
        #expect(encoded.contains("\"top_k\":2"))
        #expect(try JSONEncoderShim.decode(encoded) == architecture)
        #expect(try PolicyArchitecture(metadata: architecture.metadata) == architecture)
        #expect(throws: PolicyNetworkError(.invalidArchitecture, "")) {
            try PolicyArchitecture(inputs: 4, experts: 2, hidden: 4, topK: 3, actions: 2, activation: .relu)
        }
        #expect(throws: (any Error).self) { try JSONEncoderShim.decode(encoded.replacingOccurrences(of: "\"top_k\":2", with: "\"top_k\":0")) }
    }

    @Test func batchOneInferenceMatchesTheBatchedForwardPass() throws {
        for activation in Activation.allCases {
            for topK in [1, 2, 3] {
                let architecture = try PolicyArchitecture(inputs: 13, experts: 5, hidden: 22, topK: topK, actions: 5, activation: activation)
                let policy = try MoEPolicy(architecture: architecture, seed: UInt64(topK))
                let x = randomTensor([9, 13], seed: 3, scale: 2)
                let ws = MoEWorkspace()
                let (logits, _) = try policy.predict(x, workspace: ws)
                let inference = InferenceWorkspace()
                for row in 0..<9 {
                    let observation = Array(x.scalars[row * 13..<(row + 1) * 13])
                    let result = try policy.infer(observation, workspace: inference)
                    inference.withLogits { out in
                        for j in 0..<5 { #expect(abs(out[j] - logits[row, j]) < 1e-4, "\(activation) top-\(topK) row \(row)") }
                    }
                    #expect(inference.chosenExperts() == (0..<topK).map { Int(ws.chosenExperts.pointer[row * topK + $0]) })
                    #expect(result.topExpert == inference.chosenExperts()[0])
                    #expect(result.routerEntropy > 0 && result.routerEntropy <= Float(_log(5.0)) + 1e-5)
                }
            }
        }
        let policy = try MoEPolicy(architecture: Self.architecture, seed: 1)
        #expect(throws: PolicyNetworkError(.shapeMismatch, "")) { try policy.infer([1, 2], workspace: InferenceWorkspace()) }
    }
}

import Foundation

enum JSONEncoderShim {
    static func encode(_ architecture: PolicyArchitecture) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(architecture), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> PolicyArchitecture {
        try JSONDecoder().decode(PolicyArchitecture.self, from: Data(text.utf8))
    }
}
