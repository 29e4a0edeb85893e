import Coordinator
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork
import Testing
@testable import FleetSimulation

@Suite("a node's own check of a lesson")
struct LessonCheckTests {
    static let content = SimulatorContent.locate(from: URL(fileURLWithPath: #filePath))!

    /// A check over one fresh episode per family that lets nothing fall.
    static func check(for base: MoEPolicy) async throws -> LessonCheck {
        try await LessonCheck(
            policy: base, episodesPerFamily: 1, library: try ScenarioLibrary.load(directory: content.scenarios),
            guardrail: try Guardrail.load(contentsOf: content.guardrailRules),
            gate: .init(falseRejectionRate: 1, interventionTolerance: 0))
    }

    /// `base` with every weight multiplied by `factor`.
    static func scaled(_ base: MoEPolicy, by factor: Float) throws -> MoEPolicy {
        var parameters = base.parameterSet()
        try parameters.add(base.parameterSet(), scaledBy: factor - 1)
        var result = base
        try result.load(parameters)
        return result
    }

    static func delta(base: MoEPolicy) -> (MoEPolicy, inout DeltaCompressor) throws -> PolicyDelta {
        { local, compressor in
            try DeltaBuilder.build(
                base: base, local: local, header: DeltaHeader(nodeID: "node-1", baseVersion: 1, round: 1),
                routingCounts: Array(repeating: 0, count: base.architecture.experts), metadata: DeltaMetadata(), compressor: &compressor)
        }
    }

    @Test("a lesson that wrecks driving fails at every step and is withheld, with the gate's reasons")
    func wreckedLessonIsWithheld() async throws {
        let base = try BasePolicy.load(from: Self.content)
        let check = try await Self.check(for: base)
        var compressor = DeltaCompressor(configuration: .init(fraction: 1))
        // Even a quarter of the step leaves the weights sign-flipped.
        let outcome = try await check.review(local: try Self.scaled(base, by: -4), base: base, compressor: &compressor, delta: Self.delta(base: base))
        #expect(outcome.delta == nil)
        #expect(outcome.trial == nil)
        #expect(!outcome.reasons.isEmpty, "the node can say what the lesson broke")
    }

    @Test("a lesson that changes no outcome is sent whole")
    func harmlessLessonIsSent() async throws {
        let base = try BasePolicy.load(from: Self.content)
        let check = try await Self.check(for: base)
        var compressor = DeltaCompressor(configuration: .init(fraction: 1))
        let outcome = try await check.review(
            local: try Self.scaled(base, by: 1.000_001), base: base, compressor: &compressor, delta: Self.delta(base: base))
        #expect(outcome.trial == LessonCheck.Trial(step: 1))
        #expect(outcome.delta != nil)
        #expect(outcome.reasons.isEmpty)
    }

    @Test("the whole lesson's steps come first, then its leading expert alone, and only when it trained several")
    func trialOrder() {
        #expect(LessonCheck.trials(leading: nil).map(\.description) == ["step 1.0", "step 0.5", "step 0.25"])
        #expect(LessonCheck.trials(leading: 3) == LessonCheck.trials(leading: nil) + [
            LessonCheck.Trial(step: 1, expert: 3), LessonCheck.Trial(step: 0.5, expert: 3)])
    }

    @Test("a lesson whose other experts break driving is sent as its leading expert alone")
    func leadingExpertAloneIsSent() async throws {
        let base = try BasePolicy.load(from: Self.content)
        let check = try await Self.check(for: base)
        // Expert 0 barely moves; every other expert is sign-flipped.
        var local = try Self.scaled(base, by: -4)
        var parameters = local.parameterSet()
        for entry in try Self.scaled(base, by: 1.000_01).parameterSet(expert: 0) { try parameters.replace(entry.name, with: entry.tensor) }
        try local.load(parameters)
        var compressor = DeltaCompressor(configuration: .init(fraction: 1))
        let outcome = try await check.review(local: local, base: base, leading: 0, compressor: &compressor, delta: Self.delta(base: base))
        #expect(outcome.trial == LessonCheck.Trial(step: 1, expert: 0))
        let sent = try #require(outcome.delta)
        #expect(!sent.tensors.isEmpty)
        #expect(sent.tensors.allSatisfy { MoEPolicy.expertIndex(ofParameter: $0.name) == 0 }, "only expert 0 travels")
    }
}
