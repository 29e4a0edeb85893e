import Aggregation
import FleetWire
import PolicyNetwork

/// A round's candidate and the delta that makes it from the current version.
struct Candidate {
    /// The current model plus the delta, exactly.
    var policy: MoEPolicy
    /// The delta container, zstd compressed: what nodes holding the parent download.
    var compressedDelta: [UInt8]
}

/// Builds a round's candidate: the current model plus the server optimizer's
/// step as the fleet will download it (sparse, int8, see ``StepCompressor``),
/// plus the winning added expert, if any.
///
/// The step is compressed, packed into a delta container (`Protocols/delta-format.md`)
/// and decoded again, and the decoded delta is applied with ``DeltaPatch`` — the
/// function a node runs on the same bytes — so the candidate the gate judges
/// and a node's rebuilt model are the same bits. Tensors the delta does not name
/// stay exactly as they are. An added expert travels whole as tensors
/// `experts.<E>.*` plus its router row `experts.<E>.router.weight` /
/// `experts.<E>.router.bias`, and is appended after the current experts.
enum CandidateBuilder {
    /// Who the coordinator is in the delta's header (the `node id` field).
    static let senderID = "coordinator"

    static func build(
        base: MoEPolicy, baseVersion: UInt64, round: UInt64, step: [String: [Float]], aggregate: AggregateResult,
        downlink: inout StepCompressor, limits: DeltaLimits
    ) throws(CoordinatorError) -> Candidate {
        let differences = downlink.compress(step, layout: ModelLayout(policy: base))
        let delta = PolicyDelta(
            architecture: base.architecture.hash, baseVersion: baseVersion, round: round, nodeID: senderID,
            tensors: differences + aggregate.additions, routingCounts: aggregate.samplesPerExpert,
            metadata: DeltaMetadata(
                families: aggregate.families.keys.sorted(), samples: Int(clamping: aggregate.samplesPerExpert.reduce(0, &+)),
                captures: 0, metrics: ["updates": Double(aggregate.updateCount)]))
        let body: [UInt8]
        let decoded: PolicyDelta
        do {
            body = try DeltaCodec.encodeCompressed(delta)
            decoded = try DeltaCodec.decodeCompressed(body, limits: limits)
        } catch {
            throw CoordinatorError(.invalidUpdate, "the round's delta cannot be encoded within the delta limits: \(error.message)")
        }
        do {
            return Candidate(policy: try DeltaPatch.apply(decoded, to: base), compressedDelta: body)
        } catch {
            throw CoordinatorError(.invalidUpdate, "the round's delta does not apply to the current model: \(error.message)")
        }
    }
}
