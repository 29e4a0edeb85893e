import FleetEvaluation
public import FleetWire
public import PolicyNetwork
public import SecureTransport

/// A model that passed every check and may drive.
public struct VerifiedModel: Sendable {
    public let manifest: ModelManifest
    /// The manifest's signed bytes and their signature, kept to re-verify after a restart.
    public let manifestBytes: [UInt8]
    public let signature: [UInt8]
    /// The safetensors checkpoint whose hash the manifest pins.
    public let checkpoint: [UInt8]
    public let policy: MoEPolicy

    public var version: UInt64 { manifest.version }
}

/// Decides whether a downloaded checkpoint may drive.
///
/// Why every check, in this order: the signature comes first and is over the
/// manifest's exact bytes, so nothing the manifest says is believed before the
/// coordinator's key vouches for it. The manifest then pins the checkpoint
/// (size and SHA-256), so the weights are decompressed under the manifest's
/// size — never more — and hashed; only bytes that match are parsed. Last, the
/// parsed policy must have the architecture the manifest names and be able to
/// drive. A model failing any check is never installed.
public struct ModelVerifier: Sendable {
    /// The fleet's model-signing public key (`model-signing.pub`).
    public let signingKey: PublicKey
    /// The largest checkpoint accepted, whatever a manifest claims.
    public var maxCheckpointBytes: Int
    /// Bounds on a downloaded delta (compressed and decompressed size, tensors), checked before it is decoded.
    public var deltaLimits: DeltaLimits

    public init(signingKey: PublicKey, maxCheckpointBytes: Int = 512 << 20, deltaLimits: DeltaLimits = .default) {
        self.signingKey = signingKey
        self.maxCheckpointBytes = maxCheckpointBytes
        self.deltaLimits = deltaLimits
    }

    /// Checks a download and parses its policy.
    /// - Throws: ``AgentError/Code/modelRejected`` naming the failed check.
    public func verify(_ download: ModelDownload) throws(AgentError) -> VerifiedModel {
        let manifest = try verifiedManifest(bytes: download.manifestBytes, signature: download.signature)
        guard manifest.version == download.version else {
            throw rejected("the manifest is for version \(manifest.version) but the answer says \(download.version)", manifest)
        }
        guard manifest.contentLength <= maxCheckpointBytes else {
            throw rejected("the checkpoint is \(manifest.contentLength) bytes, more than the node's limit of \(maxCheckpointBytes)", manifest)
        }
        let checkpoint: [UInt8]
        do {
            checkpoint = try Zstd.decompress(download.compressedCheckpoint, limit: manifest.contentLength)
        } catch {
            throw rejected("the checkpoint does not decompress within its declared \(manifest.contentLength) bytes: \(error.message)", manifest)
        }
        return try verify(manifest: manifest, manifestBytes: download.manifestBytes, signature: download.signature, checkpoint: checkpoint)
    }

    /// Rebuilds a version from the delta and the parent the node holds, and checks it as if its checkpoint had been downloaded.
    ///
    /// Why this is as safe as a checkpoint download: the delta itself is not
    /// signed, but the manifest is, and it pins the checkpoint's SHA-256. The
    /// parent plus the delta must reproduce exactly those bytes (the
    /// coordinator built the version with the same ``DeltaPatch``), so a
    /// delta that was altered, damaged or meant for another parent gives
    /// another hash and is refused.
    ///
    /// - Parameters:
    ///   - delta: the answer to `GET /v1/model` with `If-None-Match` naming the parent.
    ///   - parentVersion: the version the node holds; `parent` is its policy.
    /// - Throws: ``AgentError/Code/deltaRejected`` naming the failed check; the
    ///   caller then downloads the checkpoint (`GET /v1/models/{version}`).
    public func verify(_ delta: ModelDeltaDownload, parentVersion: UInt64, parent: MoEPolicy) throws(AgentError) -> VerifiedModel {
        func refused(_ message: String) -> AgentError {
            AgentError(.deltaRejected, "the delta to model version \(delta.version) from \(parentVersion) was refused: " + message,
                       context: ["version": "\(delta.version)", "parent": "\(parentVersion)"])
        }
        let manifest: ModelManifest
        do { manifest = try verifiedManifest(bytes: delta.manifestBytes, signature: delta.signature) } catch {
            throw refused(error.message)
        }
        guard manifest.version == delta.version, manifest.parent == parentVersion, delta.parent == parentVersion else {
            throw refused("the signed manifest makes version \(manifest.version) from \(manifest.parent.map(String.init) ?? "no parent"); "
                          + "the answer says \(delta.version) from \(delta.parent)")
        }
        guard manifest.contentLength <= maxCheckpointBytes else {
            throw refused("the checkpoint is \(manifest.contentLength) bytes, more than the node's limit of \(maxCheckpointBytes)")
        }
        let decoded: PolicyDelta
        do { decoded = try DeltaCodec.decodeCompressed(delta.compressedDelta, limits: deltaLimits) } catch {
            throw refused("the delta is not a valid container: \(error.message)")
        }
        guard decoded.baseVersion == parentVersion else {
            throw refused("the container is relative to version \(decoded.baseVersion)")
        }
        let policy: MoEPolicy
        do { policy = try DeltaPatch.apply(decoded, to: parent) } catch {
            throw refused("it does not apply to the held model: \(error.message)")
        }
        do {
            return try verify(
                manifest: manifest, manifestBytes: delta.manifestBytes, signature: delta.signature, checkpoint: policy.checkpoint())
        } catch {
            throw refused(error.message)
        }
    }

    /// Checks that the weights a node was provisioned with (`checkpoint`) are the version a 304 names:
    /// the signature verifies and the signed manifest pins exactly these bytes.
    public func verify(_ confirmation: ModelConfirmation, checkpoint: [UInt8]) throws(AgentError) -> VerifiedModel {
        let manifest = try verifiedManifest(bytes: confirmation.manifestBytes, signature: confirmation.signature)
        guard manifest.version == confirmation.version else {
            throw rejected("the manifest is for version \(manifest.version) but the answer says \(confirmation.version)", manifest)
        }
        return try verify(manifest: manifest, manifestBytes: confirmation.manifestBytes, signature: confirmation.signature, checkpoint: checkpoint)
    }

    /// Checks a stored model (manifest, signature, uncompressed checkpoint) as if it had just been downloaded.
    public func verify(manifestBytes: [UInt8], signature: [UInt8], checkpoint: [UInt8]) throws(AgentError) -> VerifiedModel {
        let manifest = try verifiedManifest(bytes: manifestBytes, signature: signature)
        return try verify(manifest: manifest, manifestBytes: manifestBytes, signature: signature, checkpoint: checkpoint)
    }

    /// Checks the signature over a coordinator's freshness statement and parses it.
    ///
    /// Only the signature and the format are checked here; whether the statement
    /// is recent enough, and not older than one already seen, is ``FreshnessTracker``'s decision.
    /// - Throws: ``AgentError/Code/freshnessRefused`` with `check` `signature` or `statement`.
    public func verify(_ signed: SignedFreshness) throws(AgentError) -> FreshnessStatement {
        guard let bytes = signed.statementBytes, let signature = signed.signatureBytes else {
            throw AgentError(.freshnessRefused, "the coordinator's freshness statement or its signature is not base64", context: ["check": "statement"])
        }
        do {
            try ModelSignature.verify(signature, of: bytes, with: signingKey)
        } catch {
            throw AgentError(.freshnessRefused, "the freshness statement's signature does not verify with the fleet's signing key: \(error.message)",
                             context: ["check": "signature"])
        }
        do {
            return try FreshnessStatement.decode(bytes)
        } catch {
            throw AgentError(.freshnessRefused, "the signed freshness statement is not valid: \(error.message)", context: ["check": "statement"])
        }
    }

    private func verifiedManifest(bytes: [UInt8], signature: [UInt8]) throws(AgentError) -> ModelManifest {
        do {
            try ModelSignature.verify(signature, of: bytes, with: signingKey)
        } catch {
            throw AgentError(.modelRejected, "the model's manifest signature does not verify with the fleet's signing key: \(error.message)",
                             context: ["check": "signature"])
        }
        do {
            return try ModelManifest.decode(bytes)
        } catch {
            throw AgentError(.modelRejected, "the signed manifest is not valid: \(error.message)", context: ["check": "manifest"])
        }
    }

    private func verify(
        manifest: ModelManifest, manifestBytes: [UInt8], signature: [UInt8], checkpoint: [UInt8]
    ) throws(AgentError) -> VerifiedModel {
        guard manifest.contentLength <= maxCheckpointBytes else {
            throw rejected("the checkpoint is \(manifest.contentLength) bytes, more than the node's limit of \(maxCheckpointBytes)", manifest)
        }
        guard checkpoint.count == manifest.contentLength else {
            throw rejected("the checkpoint is \(checkpoint.count) bytes; the manifest says \(manifest.contentLength)", manifest)
        }
        let hash = Self.contentHash(of: checkpoint)
        guard hash == manifest.contentHash else {
            throw rejected("the checkpoint's hash \(hash) does not match the manifest's \(manifest.contentHash)", manifest)
        }
        let policy: MoEPolicy
        do { policy = try MoEPolicy(checkpoint: checkpoint) } catch {
            throw rejected("the checkpoint is not a readable policy: \(error)", manifest)
        }
        guard policy.architecture.hash == manifest.architectureHash else {
            throw rejected("the checkpoint's architecture \(policy.architecture.hash) is not the manifest's \(manifest.architectureHash)", manifest)
        }
        do { try policy.architecture.validateForDriving() } catch {
            throw rejected("the policy cannot drive: \(error.message)", manifest)
        }
        return VerifiedModel(manifest: manifest, manifestBytes: manifestBytes, signature: signature, checkpoint: checkpoint, policy: policy)
    }

    /// `sha256:<hex>` of a checkpoint, as a manifest's content hash names it.
    public static func contentHash(of checkpoint: [UInt8]) -> String {
        SHA256Digest.contentHash(of: checkpoint)
    }

    private func rejected(_ message: String, _ manifest: ModelManifest) -> AgentError {
        AgentError(.modelRejected, "model version \(manifest.version) rejected: " + message, context: ["version": "\(manifest.version)"])
    }
}
