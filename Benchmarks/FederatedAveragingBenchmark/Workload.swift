import Aggregation
import DrivingSimulator
import EdgeLearning
import FleetEvaluation
import FleetWire
import Foundation
import PolicyNetwork
import SecureTransport

/// The shape of the federated-averaging workload, shared with the Flower peer.
struct Workload: Sendable {
    var clients: Int
    var rounds: Int
    var localSteps: Int
    var batch: Int
    /// Clients trained at once (the peer gives each client one of this many CPUs).
    var workers: Int
    /// The top-k share a node keeps of each tensor it changes.
    var fraction: Double
    /// How the server compresses its step into the delta nodes download;
    /// nil: every round's download is the whole checkpoint and the step is applied exactly.
    var downlink: StepCompressor.Configuration? = StepCompressor.Configuration()
    /// Clients start with the initial model's weights, as nodes are provisioned with the seed
    /// policy: round 1's download is a 304 with the signed manifest, whose hash each client checks.
    var provisioned = true

    /// Rows of each client's training set: every local step sees fresh rows.
    var rowsPerClient: Int { localSteps * batch }
}

/// One client: its id, the families its rows come from, and the rows (fixed for every round).
struct Client: Sendable {
    var id: String
    var families: [String]
    var data: TrainingSet
}

/// What one round cost, in bytes on the wire and in time by phase.
struct RoundFigures: Sendable {
    /// Sum of the delta bodies the clients uploaded (FleetWire container, zstd).
    var bytesUp = 0
    /// Sum of what every client downloaded, once each: the delta from the version
    /// it holds, or the zstd safetensors checkpoint (first round unprovisioned, or without
    /// a downlink delta); nothing for a 304 (the headers are not counted on either side).
    var bytesDown = 0
    /// What this round's download was.
    var download = DownloadKind.checkpoint
    /// Wall time of the clients' work (download decode, adaptation, delta, encode).
    var clientSeconds = 0.0
    /// Wall time of the server's work (scan + fold every upload, finalize, step, compress it into the
    /// downlink delta, encode it and apply it — or the checkpoint + zstd without a downlink delta).
    var serverSeconds = 0.0
    /// Mean training loss of the clients' last epoch.
    var loss = 0.0
    /// Client time by step, summed over the clients (see ``ClientPhase``).
    var phaseSeconds = [Double](repeating: 0, count: ClientPhase.allCases.count)
}

/// What a client downloads at the start of a round.
enum DownloadKind: String, Sendable {
    /// The whole checkpoint (zstd safetensors).
    case checkpoint
    /// The change from the version it holds.
    case delta
    /// A 304 with the signed manifest: it already holds the weights (provisioned with them).
    case confirmed
}

/// The steps of a client's round, timed separately to show where the time goes.
enum ClientPhase: Int, CaseIterable {
    case decode, select, adapt, delta

    var label: String {
        switch self {
        case .decode: "apply the download"
        case .select: "pick the routed experts"
        case .adapt: "adapt them (local steps)"
        case .delta: "build, compress and encode the delta"
        }
    }
}

/// Each client's training set: teacher-labelled states from episodes of two
/// scenario families (client c drives families c and c + 5 of the ten), so the
/// split is not IID and each client's rows route to a few experts, as a
/// region's nodes do.
///
/// The teacher drives (β = 1) and labels every decision, like a node's first
/// DAgger pass; episodes are added until the client has its `rowsPerClient`
/// rows, and exactly that many are kept. Made once, before anything is timed.
func makeClients(_ workload: Workload, base: MoEPolicy, library: ScenarioLibrary) async throws -> [Client] {
    let labeller = DAggerLabeller()
    let scenarios = library.scenarios
    var clients: [Client] = []
    for c in 0..<workload.clients {
        let chosen = [scenarios[c % scenarios.count], scenarios[(c + scenarios.count / 2) % scenarios.count]]
        var samples: [LabelledSample] = []
        var firstIndex = 50_000 + c * 1_000
        var episodes = 8
        while samples.count < workload.rowsPerClient {
            var items: [EvaluationItem] = []
            for scenario in chosen {
                for i in firstIndex..<(firstIndex + episodes) {
                    let episode = ScenarioBuilder.episode(scenario, index: i, baseSeed: 0xFEDA_0000_0001, difficulty: 0.5)
                    let world = try ScenarioBuilder.build(scenario, episode: episode)
                    items.append(EvaluationItem(
                        id: episode.id, family: episode.family, world: world, duration: scenario.duration,
                        decisionSteps: max(Int((scenario.decisionPeriod / world.timeStep).rounded()), 1)))
                }
            }
            let pass = try await labeller.label(base, items: items, beta: 1, seed: PolicyNetwork.SeededGenerator.mix(0xDA7A, UInt64(firstIndex)))
            samples += pass.allSamples
            firstIndex += episodes
            // Aim the next batch of episodes at the rows still missing.
            let perEpisode = max(1, pass.allSamples.count / max(1, items.count))
            episodes = max(2, (workload.rowsPerClient - samples.count) / (2 * perEpisode) + 1)
        }
        var data = TrainingSet(width: base.architecture.inputs)
        data.append(Array(samples.prefix(workload.rowsPerClient)))
        clients.append(Client(id: "client-\(c)", families: chosen.map(\.family), data: data))
    }
    return clients
}

/// Our federated averaging, run in one process the way the fleet runs it across machines.
///
/// A round: every client rebuilds the version the coordinator serves from
/// what `GET /v1/model` returns it — the zstd delta container from the version
/// it holds, applied with ``DeltaPatch`` (the first round: a 304 for the seed it
/// was provisioned with, whose hash it checks, or unprovisioned the zstd
/// safetensors checkpoint) — picks the
/// experts its rows route to (``ExpertAdapter/select(_:data:)``), adapts only
/// those for `localSteps` Adam steps of `batch` rows (``ExpertAdapter/adapt``,
/// which keeps the change within the delta's top-k share as a node does),
/// builds its delta (``DeltaBuilder``, top-k int8 with error feedback) and
/// encodes the zstd container it would upload. The server scans and folds
/// every upload (``RoundAggregator``, FedAvg weighted per expert by routed
/// samples), takes the FedAvg step, compresses it into the downlink delta
/// (``StepCompressor``, top-k int8 with error feedback) and applies exactly
/// that delta, as the coordinator does, so the next version is parent + delta.
/// The coordinator's regression gate and signature are not part of the
/// workload (Flower's side has neither).
struct FederatedAveraging {
    var workload: Workload
    var clients: [Client]
    var initial: MoEPolicy

    /// How a client adapts: exactly `localSteps` steps of `batch` fresh rows, no replay.
    var adapter: ExpertAdapter {
        var configuration = ExpertAdapter.Configuration()
        configuration.fitting = PolicyFitting.Configuration(
            epochs: 1, batchSize: workload.batch, learningRate: 1e-3, replayRatio: 0, curriculumStart: 1,
            maxSteps: workload.localSteps, deltaFraction: workload.fraction, pullTowardsReference: 0)
        return ExpertAdapter(configuration: configuration)
    }

    /// Runs the rounds from the initial model; returns the figures of each round.
    func run() async throws -> [RoundFigures] {
        var model = initial
        var version: UInt64 = 1
        var download = workload.provisioned
            ? Download.confirmed(model, contentHash: SHA256Digest.contentHash(of: model.checkpoint()))
            : Download.checkpoint(try Zstd.compress(model.checkpoint()))
        var downlink = try workload.downlink.map { configuration throws(AggregationError) in try StepCompressor(configuration: configuration) }
        var compressors = Array(repeating: DeltaCompressor(configuration: .init(fraction: workload.fraction)), count: clients.count)
        var figures: [RoundFigures] = []
        let clock = ContinuousClock()
        for round in 1...workload.rounds {
            var figure = RoundFigures()
            figure.bytesDown = download.body.count * clients.count
            figure.download = download.kind

            let clientStart = clock.now
            let uploads = try await trainClients(download: download, version: version, round: UInt64(round), compressors: &compressors)
            figure.clientSeconds = seconds(clock.now - clientStart)
            figure.bytesUp = uploads.reduce(0) { $0 + $1.body.count }
            figure.loss = uploads.reduce(0) { $0 + $1.loss } / Double(max(1, uploads.count))
            for upload in uploads {
                for (phase, value) in upload.phaseSeconds.enumerated() { figure.phaseSeconds[phase] += value }
            }

            let serverStart = clock.now
            var aggregator = try RoundAggregator(layout: ModelLayout(policy: model), currentVersion: version, round: UInt64(round))
            for upload in uploads { try aggregator.add(try DeltaCodec.scanCompressed(upload.body)) }
            var optimizer = ServerOptimizer(kind: .fedAvg)
            let step = optimizer.step(try aggregator.finalize().meanDelta)
            if downlink != nil {
                let delta = PolicyDelta(
                    architecture: model.architecture.hash, baseVersion: version, round: UInt64(round), nodeID: "coordinator",
                    tensors: downlink!.compress(step, layout: ModelLayout(policy: model)), routingCounts: [], metadata: DeltaMetadata())
                let body = try DeltaCodec.encodeCompressed(delta)
                // The server applies the delta as decoded from its bytes, exactly what every client applies.
                download = .delta(body, parent: model)
                model = try download.policy()
            } else {
                model = try applying(step, to: model)
                download = .checkpoint(try Zstd.compress(model.checkpoint()))
            }
            version += 1
            figure.serverSeconds = seconds(clock.now - serverStart)
            figures.append(figure)
        }
        return figures
    }

    /// What a client downloads at the start of a round.
    enum Download: Sendable {
        /// The zstd safetensors checkpoint.
        case checkpoint([UInt8])
        /// The zstd delta container from `parent`, the version every client holds.
        case delta([UInt8], parent: MoEPolicy)
        /// A 304 for the weights every client was provisioned with: no body; the client
        /// checks that the signed content hash is its own checkpoint's.
        case confirmed(MoEPolicy, contentHash: String)

        var body: [UInt8] {
            switch self {
            case .checkpoint(let body), .delta(let body, _): body
            case .confirmed: []
            }
        }

        var kind: DownloadKind {
            switch self {
            case .checkpoint: .checkpoint
            case .delta: .delta
            case .confirmed: .confirmed
            }
        }

        /// The version the download makes: the checkpoint decoded, or the parent with the delta applied.
        func policy() throws -> MoEPolicy {
            switch self {
            case .checkpoint(let body):
                try MoEPolicy(checkpoint: try Zstd.decompress(body, limit: 64 << 20))
            case .delta(let body, let parent):
                try DeltaPatch.apply(try DeltaCodec.decodeCompressed(body), to: parent)
            case .confirmed(let held, let contentHash):
                try Self.checked(held, contentHash)
            }
        }

        private static func checked(_ held: MoEPolicy, _ contentHash: String) throws -> MoEPolicy {
            guard contentHash == SHA256Digest.contentHash(of: held.checkpoint()) else {
                throw CocoaError(.coderInvalidValue, userInfo: [NSLocalizedDescriptionKey: "the provisioned weights are not the signed version"])
            }
            return held
        }
    }

    struct Upload: Sendable {
        var index: Int
        var body: [UInt8]
        var compressor: DeltaCompressor
        var loss: Double
        var phaseSeconds: [Double]
    }

    /// Every client's round, `workers` clients at a time.
    private func trainClients(
        download: Download, version: UInt64, round: UInt64, compressors: inout [DeltaCompressor]
    ) async throws -> [Upload] {
        let adapter = self.adapter, clients = self.clients, workers = max(1, workload.workers), current = compressors
        let uploads = try await withThrowingTaskGroup(of: [Upload].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var done: [Upload] = []
                    for index in stride(from: worker, to: clients.count, by: workers) {
                        done.append(try Self.trainClient(
                            clients[index], index: index, adapter: adapter, download: download, version: version, round: round,
                            compressor: current[index]))
                    }
                    return done
                }
            }
            var all: [Upload] = []
            for try await part in group { all += part }
            return all.sorted { $0.index < $1.index }
        }
        for upload in uploads { compressors[upload.index] = upload.compressor }
        return uploads
    }

    /// One client's round: rebuild the served model, adapt the routed experts, encode the delta.
    private static func trainClient(
        _ client: Client, index: Int, adapter: ExpertAdapter, download: Download, version: UInt64, round: UInt64,
        compressor: DeltaCompressor
    ) throws -> Upload {
        let clock = ContinuousClock()
        var phaseSeconds: [Double] = []
        var mark = clock.now
        func lap() {
            phaseSeconds.append(seconds(clock.now - mark))
            mark = clock.now
        }
        let base = try download.policy()
        lap()
        let experts = try adapter.select(base, data: client.data).experts
        lap()
        var local = base
        let fit = try adapter.adapt(
            &local, experts: experts, data: client.data, anchor: nil, base: base,
            seed: PolicyNetwork.SeededGenerator.mix(UInt64(index), round))
        lap()
        var compressor = compressor
        let delta = try DeltaBuilder.build(
            base: base, local: local, header: DeltaHeader(nodeID: client.id, baseVersion: version, round: round),
            routingCounts: fit.routing.samplesPerExpert,
            metadata: DeltaMetadata(
                families: client.families, samples: client.data.count, captures: 0,
                metrics: ["loss_before": Double(fit.firstEpochLoss), "loss_after": Double(fit.lastEpochLoss)]),
            compressor: &compressor)
        let body = try DeltaCodec.encodeCompressed(delta)
        lap()
        return Upload(index: index, body: body, compressor: compressor, loss: Double(fit.lastEpochLoss), phaseSeconds: phaseSeconds)
    }
}

/// `policy` plus the server's step; tensors the step does not name stay as they are
/// (the coordinator's candidate without added experts).
func applying(_ step: [String: [Float]], to policy: MoEPolicy) throws -> MoEPolicy {
    var parameters = policy.parameterSet()
    for (name, values) in step {
        guard let current = parameters[name], current.count == values.count else {
            throw CocoaError(.coderInvalidValue, userInfo: [NSLocalizedDescriptionKey: "the step names tensor '\(name)' the model lacks"])
        }
        var scalars = current.scalars
        for index in scalars.indices { scalars[index] += values[index] }
        try parameters.replace(name, with: Tensor(shape: current.shape, scalars: scalars))
    }
    var updated = policy
    try updated.load(parameters)
    return updated
}

func seconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
