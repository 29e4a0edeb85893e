import Logging
import Metrics
import Aggregation
public import FleetWire

extension CoordinatorService {
    /// Accepts a node's zstd-compressed delta container for `round`.
    ///
    /// In order: the round must take updates from this node (409/403 before
    /// any decoding); the body is decompressed and scanned strictly within
    /// ``CoordinatorConfiguration/deltaLimits`` (outside the actor; every
    /// length, index, value and the checksum checked, the norms computed,
    /// the values left in place); the
    /// update is validated against the model (architecture, round, base
    /// version, shapes, norm); its body and its row are made durable; only then
    /// is it folded in and the 202 receipt returned. A refused update leaves
    /// nothing behind.
    ///
    /// - Parameters:
    ///   - node: The sender, from its verified certificate (not from the body).
    ///   - round: The round named in the request path.
    ///   - body: The request body as received (zstd).
    public nonisolated func submitUpdate(from node: String, round: UInt64, body: [UInt8]) async throws(CoordinatorError) -> API.UpdateReceipt {
        do throws(CoordinatorError) {
            try await admit(node: node, round: round, bytes: body.count)
            let delta = try Self.decode(body, limits: configuration.deltaLimits)
            guard delta.nodeID == node else {
                throw CoordinatorError(.forbidden, "the update names node \(delta.nodeID) but was sent with the certificate of node \(node)")
            }
            guard delta.round == round else {
                throw CoordinatorError(.invalidUpdate, "the update answers round \(delta.round) but was sent to round \(round)")
            }
            return try await accept(delta, from: node, round: round, body: body)
        } catch {
            metrics.updateRejected(error.code.name)
            throw error
        }
    }

    /// The cheap checks, before decoding.
    func admit(node: String, round: UInt64, bytes: Int) throws(CoordinatorError) {
        let now = clock.now()
        state.nodeSeen(node, at: now)
        metrics.bytesReceived.increment(by: Int64(bytes))
        guard bytes <= configuration.deltaLimits.maxCompressedBytes else {
            throw CoordinatorError(.payloadTooLarge, "the body is \(bytes) bytes; at most \(configuration.deltaLimits.maxCompressedBytes) are accepted")
        }
        try state.admitUpdate(from: node, round: round)
    }

    /// Decompresses and scans an upload strictly, mapping codec failures to HTTP errors.
    ///
    /// The scan checks exactly what a full decode checks but leaves the
    /// values in the container, so the fold reads them straight from there:
    /// no per-update copy of the values (see BENCHMARKS.md, "Aggregation").
    nonisolated static func decode(_ body: [UInt8], limits: DeltaLimits) throws(CoordinatorError) -> ScannedDelta {
        do {
            return try DeltaCodec.scanCompressed(body, limits: limits)
        } catch {
            switch error.code {
            case .decompressedSizeLimitExceeded, .compressedSizeLimitExceeded, .limitExceeded:
                throw CoordinatorError(.payloadTooLarge, "the update is too large: \(error.message)")
            default:
                throw CoordinatorError(.invalidUpdate, "the body is not a valid delta container: \(error.message)")
            }
        }
    }

    /// Validates, persists and folds a decoded update.
    func accept(_ delta: ScannedDelta, from node: String, round: UInt64, body: [UInt8]) throws(CoordinatorError) -> API.UpdateReceipt {
        try state.admitUpdate(from: node, round: round)
        guard let open = state.collecting, let aggregator = aggregators[open.number] else {
            throw CoordinatorError(.roundClosed, "no round is taking updates")
        }
        let validated: ValidatedUpdate
        do {
            validated = try UpdateValidator.validate(
                delta, layout: aggregator.layout, currentVersion: aggregator.currentVersion,
                round: aggregator.round, configuration: configuration.aggregation
            )
        } catch {
            throw Self.map(error)
        }
        if configuration.aggregation.rule != .weightedMean && aggregator.updateCount >= configuration.aggregation.bufferCapacity {
            throw CoordinatorError(.roundClosed, "round \(open.number) holds the most updates its robust rule keeps (\(configuration.aggregation.bufferCapacity))")
        }

        // Durable first: a 202 means the update survives a crash.
        let now = clock.now()
        let hash = try blobs.put(body)
        try store.recordAcceptedUpdate(round: open.number, node: node, blobHash: hash, at: now)
        do {
            try aggregators[open.number]!.add(delta)
        } catch {
            try? store.removeAcceptedUpdate(round: open.number, node: node)
            blobs.remove(hash)
            throw Self.map(error)
        }
        let action = try state.updateAccepted(from: node, round: round, at: now)
        metrics.updatesAccepted.increment()
        let accepted = aggregators[open.number]?.updateCount ?? open.acceptedCount + 1
        perform(action, at: now)
        let clip = configuration.aggregation.privacy?.clipNorm ?? configuration.aggregation.clipNorm
        return API.UpdateReceipt(
            round: open.number, acceptedUpdates: accepted, staleness: validated.staleness,
            clipped: clip.map { validated.norm > $0 } ?? false
        )
    }

    /// The HTTP-facing error for an aggregation refusal.
    static func map(_ error: AggregationError) -> CoordinatorError {
        switch error.code {
        case .staleBaseVersion: CoordinatorError(.staleUpdate, error.message)
        case .duplicateNode: CoordinatorError(.duplicateUpdate, error.message)
        case .wrongRound: CoordinatorError(.roundClosed, error.message)
        case .bufferFull: CoordinatorError(.roundClosed, error.message)
        default: CoordinatorError(.invalidUpdate, error.message)
        }
    }
}
