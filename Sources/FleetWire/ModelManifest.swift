import Foundation
public import PolicyNetwork

/// Why a model version exists: its lineage, who contributed, what it learned
/// from and how it did at the gate. Signed by the coordinator; a node uses a
/// model only if the signature over these exact bytes verifies and the
/// checkpoint's hash matches ``contentHash``.
///
/// `Protocols/model-format.md` specifies the JSON.
public struct ModelManifest: Sendable, Equatable, Codable {
    /// The manifest format identifier, `fleet-model/1`.
    public static let currentFormat = "fleet-model/1"

    public var format: String
    /// This version's number; versions increase by one from 1.
    public var version: UInt64
    /// The version it was built from; nil for the first.
    public var parent: UInt64?
    /// `sha256:<hex>` of the safetensors checkpoint.
    public var contentHash: String
    /// Size of the checkpoint in bytes.
    public var contentLength: Int
    public var architecture: PolicyArchitecture
    /// ``PolicyArchitecture/hash``: what deltas against this version must carry.
    public var architectureHash: String
    /// The round that produced it; nil for a version not made by a round (the seed model).
    public var round: UInt64?
    /// ISO 8601 time of publication.
    public var createdAt: String
    /// Nodes whose updates were aggregated into it.
    public var contributors: [String]
    /// Edge-case families the contributors learned from, with the number of updates naming each.
    public var families: [String: Int]
    /// Samples routed to each expert, summed over contributors.
    public var samplesPerExpert: [UInt64]
    /// How the updates were combined.
    public var aggregation: AggregationSummary?
    /// The regression gate's verdict and its evidence.
    public var gate: GateSummary?
    /// Free-form notes (e.g. how a seed model was trained).
    public var notes: String?

    public init(
        version: UInt64,
        parent: UInt64?,
        contentHash: String,
        contentLength: Int,
        architecture: PolicyArchitecture,
        round: UInt64?,
        createdAt: String,
        contributors: [String] = [],
        families: [String: Int] = [:],
        samplesPerExpert: [UInt64] = [],
        aggregation: AggregationSummary? = nil,
        gate: GateSummary? = nil,
        notes: String? = nil
    ) {
        format = Self.currentFormat
        self.version = version
        self.parent = parent
        self.contentHash = contentHash
        self.contentLength = contentLength
        self.architecture = architecture
        architectureHash = architecture.hash
        self.round = round
        self.createdAt = createdAt
        self.contributors = contributors
        self.families = families
        self.samplesPerExpert = samplesPerExpert
        self.aggregation = aggregation
        self.gate = gate
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case format, version, parent, architecture, round, contributors, families, aggregation, gate, notes
        case contentHash = "content_hash"
        case contentLength = "content_length"
        case architectureHash = "architecture_hash"
        case createdAt = "created_at"
        case samplesPerExpert = "samples_per_expert"
    }

    /// The canonical bytes that are signed: JSON with sorted keys, no extra spaces.
    public func canonicalBytes() throws(FleetWireError) -> [UInt8] {
        try SignedJSON.canonicalBytes(of: self, naming: "manifest")
    }

    /// Parses and checks a manifest received from the coordinator.
    public static func decode(_ bytes: some Collection<UInt8>, maxBytes: Int = 1 << 20) throws(FleetWireError) -> ModelManifest {
        let manifest = try SignedJSON.decode(ModelManifest.self, from: bytes, maxBytes: maxBytes, naming: "manifest")
        guard manifest.format == currentFormat else {
            throw FleetWireError(.unsupportedVersion, "manifest format \(manifest.format) is not supported (expected \(currentFormat))")
        }
        guard manifest.architectureHash == manifest.architecture.hash else {
            throw FleetWireError(.invalidField, "the manifest's architecture_hash does not match its architecture")
        }
        guard manifest.contentHash.hasPrefix("sha256:"), manifest.contentHash.count == 71 else {
            throw FleetWireError(.invalidField, "the manifest's content_hash must be sha256:<64 hex digits>")
        }
        return manifest
    }
}

/// How a version's updates were combined.
public struct AggregationSummary: Sendable, Equatable, Codable {
    /// `weighted_mean`, `trimmed_mean(0.2)` or `median`.
    public var rule: String
    /// `fedavg`, `fedadam` or `fedyogi`.
    public var serverOptimizer: String
    public var updates: Int
    public var clippedUpdates: Int
    /// Standard deviation of the DP noise per averaged coordinate; nil without DP.
    public var noiseStandardDeviation: Double?

    public init(rule: String, serverOptimizer: String, updates: Int, clippedUpdates: Int = 0, noiseStandardDeviation: Double? = nil) {
        self.rule = rule
        self.serverOptimizer = serverOptimizer
        self.updates = updates
        self.clippedUpdates = clippedUpdates
        self.noiseStandardDeviation = noiseStandardDeviation
    }

    enum CodingKeys: String, CodingKey {
        case rule, updates
        case serverOptimizer = "server_optimizer"
        case clippedUpdates = "clipped_updates"
        case noiseStandardDeviation = "noise_std"
    }
}

/// The regression gate's verdict on a candidate, and the evidence.
public struct GateSummary: Sendable, Equatable, Codable {
    /// One scenario family, current model against candidate.
    public struct Family: Sendable, Equatable, Codable {
        public var family: String
        public var episodes: Int
        public var currentCollisionRate: Double
        public var candidateCollisionRate: Double
        public var currentInterventions: Double
        public var candidateInterventions: Double
        /// Episodes the candidate newly crashes in / newly drives clean, against the current model (nil in older manifests).
        public var newlyCrashed: Int?
        public var newlyClean: Int?
        /// The paired sign test's p-value for the candidate's net loss (nil in older manifests).
        public var pValue: Double?

        public init(
            family: String, episodes: Int, currentCollisionRate: Double, candidateCollisionRate: Double, currentInterventions: Double,
            candidateInterventions: Double, newlyCrashed: Int? = nil, newlyClean: Int? = nil, pValue: Double? = nil
        ) {
            self.family = family
            self.episodes = episodes
            self.currentCollisionRate = currentCollisionRate
            self.candidateCollisionRate = candidateCollisionRate
            self.currentInterventions = currentInterventions
            self.candidateInterventions = candidateInterventions
            self.newlyCrashed = newlyCrashed
            self.newlyClean = newlyClean
            self.pValue = pValue
        }

        enum CodingKeys: String, CodingKey {
            case family, episodes
            case currentCollisionRate = "current_collision_rate"
            case candidateCollisionRate = "candidate_collision_rate"
            case currentInterventions = "current_interventions"
            case candidateInterventions = "candidate_interventions"
            case newlyCrashed = "newly_crashed"
            case newlyClean = "newly_clean"
            case pValue = "p_value"
        }
    }

    /// `promoted`, `rejected` or `awaiting_approval`.
    public var verdict: String
    /// The gold suite's identifier and version.
    public var suite: String
    /// Gold-suite score (0–100, higher is better) of the current model and the candidate.
    public var currentScore: Double
    public var candidateScore: Double
    public var families: [Family]
    /// Why a candidate was rejected (empty when promoted).
    public var reasons: [String]
    /// When the round's whole aggregate failed and the coordinator screened
    /// its updates: the updates left out of this candidate and why (nil: no screening).
    public var leftOut: [LeftOutUpdate]?

    /// An update the screening left out of the round's candidate.
    public struct LeftOutUpdate: Sendable, Equatable, Codable {
        /// The node that sent it.
        public var node: String
        /// Why: the gate's reasons against it alone, or against the candidate with it.
        public var reasons: [String]

        public init(node: String, reasons: [String]) {
            self.node = node
            self.reasons = reasons
        }
    }

    public init(
        verdict: String, suite: String, currentScore: Double, candidateScore: Double, families: [Family], reasons: [String],
        leftOut: [LeftOutUpdate]? = nil
    ) {
        self.verdict = verdict
        self.suite = suite
        self.currentScore = currentScore
        self.candidateScore = candidateScore
        self.families = families
        self.reasons = reasons
        self.leftOut = leftOut
    }

    enum CodingKeys: String, CodingKey {
        case verdict, suite, families, reasons
        case currentScore = "current_score"
        case candidateScore = "candidate_score"
        case leftOut = "left_out"
    }
}
