public import FleetWire
public import PolicyNetwork
public import SecureTransport

/// A model version as the coordinator serves it: the manifest's exact bytes,
/// the signature over them, and the checkpoint's blob.
public struct PublishedVersion: Sendable, Equatable {
    public let number: UInt64
    public let status: CoordinatorStore.Version.Status
    public let manifest: ModelManifest
    /// The manifest's canonical bytes, exactly as signed and served.
    public let manifestBytes: [UInt8]
    /// Ed25519 over ``manifestBytes``; nil until published.
    public let signature: [UInt8]?
    /// The blob of the delta from the parent (zstd container, `Protocols/delta-format.md`); nil for the seed model.
    public let deltaHash: String?
}

/// Stores, signs and looks up model versions — the lineage of the fleet's model.
///
/// Publishing writes the delta blob (the change from the parent, which nodes
/// holding the parent download instead of the checkpoint) and the checkpoint
/// blob first (durable, content-addressed), then the manifest naming the
/// checkpoint's hash, signed with the coordinator's Ed25519 key, in one
/// database row with the delta's hash. A crash before the row leaves
/// unreferenced blobs and no version, never a version without its checkpoint
/// or its delta. Rejected
/// candidates are kept too (unsigned), so the audit trail can show what was
/// refused and why.
public struct ModelRegistry: Sendable {
    public let store: CoordinatorStore
    public let blobs: BlobStore
    private let signingKey: PrivateKey

    public init(store: CoordinatorStore, blobs: BlobStore, signingKey: PrivateKey) {
        self.store = store
        self.blobs = blobs
        self.signingKey = signingKey
    }

    /// The key nodes verify manifests with.
    public var verificationKey: PublicKey { signingKey.publicKey }

    /// Stores `policy` as the next version with the given provenance; signs it
    /// unless the gate rejected it or an operator must approve it first.
    ///
    /// - Parameters:
    ///   - status: `published` for the seed model or a promoted candidate.
    ///   - delta: The zstd delta container that turns the parent into `policy` exactly; nil for the seed model.
    public func record(
        _ policy: MoEPolicy,
        delta: [UInt8]? = nil,
        status: CoordinatorStore.Version.Status,
        parent: UInt64?,
        round: UInt64?,
        createdAt: String,
        at time: Double,
        contributors: [String] = [],
        families: [String: Int] = [:],
        samplesPerExpert: [UInt64] = [],
        aggregation: AggregationSummary? = nil,
        gate: GateSummary? = nil,
        notes: String? = nil
    ) throws(CoordinatorError) -> PublishedVersion {
        let deltaHash = try delta.map { bytes throws(CoordinatorError) in try blobs.put(bytes) }
        let checkpoint = policy.checkpoint()
        let hash = try blobs.put(checkpoint)
        let number = try store.highestVersionNumber() + 1
        let manifest = ModelManifest(
            version: number, parent: parent, contentHash: hash, contentLength: checkpoint.count,
            architecture: policy.architecture, round: round, createdAt: createdAt,
            contributors: contributors, families: families, samplesPerExpert: samplesPerExpert,
            aggregation: aggregation, gate: gate, notes: notes
        )
        let bytes: [UInt8]
        do {
            bytes = try manifest.canonicalBytes()
        } catch {
            throw CoordinatorError(.storage, "cannot encode the manifest of version \(number): \(error.message)")
        }
        let signature = status == .published ? try sign(bytes) : nil
        try store.insert(.init(
            version: number, parent: parent, status: status, contentHash: hash,
            manifest: bytes, signature: signature, createdAt: time, deltaHash: deltaHash
        ))
        return PublishedVersion(
            number: number, status: status, manifest: manifest, manifestBytes: bytes, signature: signature, deltaHash: deltaHash)
    }

    /// An operator approves a candidate that passed the gate: it is signed and published.
    public func approve(_ number: UInt64) throws(CoordinatorError) -> PublishedVersion {
        guard let record = try store.version(number) else {
            throw CoordinatorError(.notFound, "there is no version \(number)")
        }
        guard record.status == .awaitingApproval else {
            throw CoordinatorError(.notAwaitingApproval, "version \(number) is \(record.status.rawValue), not awaiting approval; only a version the gate held for approval can be approved")
        }
        let signature = try sign([UInt8](record.manifest))
        try store.setStatus(.published, signature: signature, of: number)
        return try version(number)!
    }

    /// The newest published version.
    public func latest() throws(CoordinatorError) -> PublishedVersion? {
        try store.latestPublished().map(decode)
    }

    /// Version `number`, whatever its status.
    public func version(_ number: UInt64) throws(CoordinatorError) -> PublishedVersion? {
        try store.version(number).map(decode)
    }

    /// Every version, newest first.
    public func all() throws(CoordinatorError) -> [PublishedVersion] {
        try store.versions().map(decode)
    }

    /// The checkpoint bytes of a version, checked against its hash.
    public func checkpoint(of version: PublishedVersion) throws(CoordinatorError) -> [UInt8] {
        try blobs.get(version.manifest.contentHash)
    }

    /// The delta from a version's parent (zstd container, checked against its hash); nil when none is stored.
    public func delta(of version: PublishedVersion) throws(CoordinatorError) -> [UInt8]? {
        try version.deltaHash.map { hash throws(CoordinatorError) in try blobs.get(hash) }
    }

    /// The policy of a version.
    public func policy(of version: PublishedVersion) throws(CoordinatorError) -> MoEPolicy {
        let bytes = try checkpoint(of: version)
        do {
            return try MoEPolicy(checkpoint: bytes)
        } catch {
            throw CoordinatorError(.storage, "the checkpoint of version \(version.number) does not load: \(error)")
        }
    }

    private func sign(_ bytes: [UInt8]) throws(CoordinatorError) -> [UInt8] {
        do {
            return try ModelSignature.sign(bytes, with: signingKey)
        } catch {
            throw CoordinatorError(.storage, "cannot sign a manifest: \(error)")
        }
    }

    private func decode(_ record: CoordinatorStore.Version) throws(CoordinatorError) -> PublishedVersion {
        let bytes = [UInt8](record.manifest)
        let manifest: ModelManifest
        do {
            manifest = try ModelManifest.decode(bytes)
        } catch {
            throw CoordinatorError(.storage, "the stored manifest of version \(record.version) is damaged: \(error.message)")
        }
        return PublishedVersion(
            number: UInt64(clamping: record.version), status: record.status, manifest: manifest,
            manifestBytes: bytes, signature: record.signature.map { [UInt8]($0) }, deltaHash: record.deltaHash
        )
    }
}
