import Foundation
import Testing
import Aggregation
@testable import Coordinator
import FleetWire
import PolicyNetwork

/// Seeded fuzzing of everything a peer's bytes reach: route parameters and
/// tags, JSON control messages, manifests, checkpoints, and update containers
/// with extreme counts and values through validation and aggregation.
///
/// Each target runs `FLEET_FUZZ_ITERATIONS` inputs (default 20,000) or
/// `FLEET_FUZZ_SECONDS` seconds (default 60), whichever ends first, so CI
/// spends a bounded time; the longer recorded runs set the iterations to 10⁶
/// (BENCHMARKS.md, "Fuzzing"). A crash fails the run; every refusal must be
/// the decoder's own typed error.
@Suite("fuzzing every decoder and route parser")
struct HostileInputFuzzTests {
    /// How long one target runs.
    struct Budget {
        let iterations: Int
        let seconds: Double
        let start = ContinuousClock.now

        init() {
            let environment = ProcessInfo.processInfo.environment
            iterations = environment["FLEET_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 20_000
            seconds = environment["FLEET_FUZZ_SECONDS"].flatMap(Double.init) ?? 60
        }

        /// Whether input `iteration` is still to be run (checking the clock every 256 inputs).
        func allows(_ iteration: Int) -> Bool {
            guard iteration < iterations else { return false }
            guard iteration % 256 == 0, iteration > 0 else { return true }
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18 < seconds
        }
    }

    /// A small policy of the fleet's shape (router, experts of two layers):
    /// what matters to the decoders is its structure, not its size, and small
    /// inputs let a long run reach 10⁶ of each.
    static let smallPolicy: MoEPolicy = try! MoEPolicy(
        architecture: PolicyArchitecture(inputs: 6, experts: 4, hidden: 5, topK: 2, actions: 3, activation: .gelu), seed: 7)

    static let edgeNumbers = [
        "0", "1", "-1", "+1", "01", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "99999999999999999999999", "", " 1", "1 ", "1e3", "0x10", "½", "١", "٣",
    ]

    static func randomText(_ random: inout SplitMix, alphabet: [Character], maxLength: Int) -> String {
        String((0..<Int(random.next() % UInt64(maxLength + 1))).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    @Test("path numbers: every input is a number in 1…2⁶³−1 or a not_found error")
    func pathNumbers() throws {
        var random = SplitMix(0x9A7)
        let alphabet = Array("0123456789-+ e.x٣½")
        let budget = Budget()
        var iteration = 0, accepted = 0
        while budget.allows(iteration) {
            let text = iteration < Self.edgeNumbers.count
                ? Self.edgeNumbers[iteration]
                : Self.randomText(&random, alphabet: alphabet, maxLength: 24)
            do {
                let value = try CoordinatorRoutes.parseNumber("version", text)
                #expect(value >= 1 && value <= UInt64(Int64.max) && String(value) == text.drop { $0 == "0" }.description, "\(text)")
                accepted += 1
            } catch {
                #expect(error.code == .notFound)
            }
            iteration += 1
        }
        #expect(accepted > 0 && accepted < iteration)
        for edge in ["0", "-1", "9223372036854775808", "18446744073709551615", "18446744073709551616", "+1"] {
            #expect(throws: CoordinatorError(.notFound, "")) { try CoordinatorRoutes.parseNumber("version", edge) }
        }
        #expect(try CoordinatorRoutes.parseNumber("version", "9223372036854775807") == UInt64(Int64.max))
        print("fuzz path numbers: \(iteration) inputs, \(accepted) numbers")
    }

    @Test("If-None-Match tags: a held version is in 1…2⁶³−1 or none")
    func entityTags() {
        var random = SplitMix(0x7A6)
        let alphabet = Array("\"vW/,0123456789 *sha256:ab-")
        let budget = Budget()
        var iteration = 0
        while budget.allows(iteration) {
            let text = Self.randomText(&random, alphabet: alphabet, maxLength: 64)
            if let version = CoordinatorRoutes.heldVersion(ifNoneMatch: text) {
                #expect(version >= 1 && version <= UInt64(Int64.max), "\(text)")
            }
            #expect(CoordinatorRoutes.entityTags(text).count <= 16)
            iteration += 1
        }
        #expect(CoordinatorRoutes.heldVersion(ifNoneMatch: "\"v9223372036854775808\"") == nil)
        #expect(CoordinatorRoutes.heldVersion(ifNoneMatch: "\"v18446744073709551615\"") == nil)
        #expect(CoordinatorRoutes.heldVersion(ifNoneMatch: "\"v7\"") == 7)
        print("fuzz entity tags: \(iteration) inputs")
    }

    /// A JSON text with a few bytes mutated, or numbers swapped for extreme ones.
    static func mutateJSON(_ text: String, _ random: inout SplitMix) -> [UInt8] {
        var bytes = Array(text.utf8)
        switch random.next() % 3 {
        case 0:
            for _ in 0..<(1 + random.next() % 4) where !bytes.isEmpty {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            }
        case 1:
            let extremes = ["-1", "-5", "0", "18446744073709551616", "9223372036854775808", "1e400", "-0", "3.5", "null", "\"x\"", "[]", "{}"]
            var out = ""
            var inNumber = false
            for character in text {
                if character.isNumber || character == "-" {
                    if !inNumber { out += extremes[Int(random.next() % UInt64(extremes.count))] }
                    inNumber = true
                } else {
                    inNumber = false
                    out.append(character)
                }
            }
            bytes = Array(out.utf8)
        default:
            bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
        }
        return bytes
    }

    @Test("JSON control messages and heartbeats: decoded and range-checked, or refused with a typed error")
    func controlMessages() throws {
        var random = SplitMix(0xC0_17)
        let samples = [
            #"{"state":"driving","model_version":3,"region":"alpine","captures_pending":2}"#,
            #"{"current_version":4,"open_round":7,"heartbeat_interval":15}"#,
            #"{"round":7,"base_version":4,"deadline_seconds":30}"#,
            #"{"round":7,"accepted_updates":2,"staleness":0,"clipped":false}"#,
        ]
        let budget = Budget()
        var iteration = 0, decoded = 0
        while budget.allows(iteration) {
            let bytes = Data(Self.mutateJSON(samples[iteration % samples.count], &random))
            let decoder = JSONDecoder()
            switch iteration % samples.count {
            case 0:
                if let heartbeat = try? decoder.decode(API.Heartbeat.self, from: bytes) {
                    decoded += 1
                    do {
                        try CoordinatorRoutes.checkHeartbeat(heartbeat)
                        #expect((heartbeat.capturesPending ?? 0) >= 0)
                        #expect((heartbeat.modelVersion ?? 1) >= 1)
                    } catch {
                        #expect(error.code == .invalidRequest)
                    }
                }
            case 1: if (try? decoder.decode(HeartbeatReply.self, from: bytes)) != nil { decoded += 1 }
            case 2: if (try? decoder.decode(TaskAssignment.self, from: bytes)) != nil { decoded += 1 }
            default: if (try? decoder.decode(UpdateReceipt.self, from: bytes)) != nil { decoded += 1 }
            }
            iteration += 1
        }
        #expect(decoded > 0)
        print("fuzz control messages: \(iteration) inputs, \(decoded) decoded")
    }

    @Test("manifests and checkpoints: mutated bytes decode or give the decoder's typed error")
    func manifestsAndCheckpoints() throws {
        var random = SplitMix(0x5AFE)
        let checkpoint = Self.smallPolicy.checkpoint()
        let layout = ModelLayout(policy: Self.smallPolicy)
        let manifest = ModelManifest(
            version: 3, parent: 2, contentHash: BlobStore.hash(of: checkpoint), contentLength: checkpoint.count,
            architecture: Self.smallPolicy.architecture, round: 2, createdAt: "2026-12-07T00:00:00Z", contributors: ["car-1"],
            families: ["ice": 1], samplesPerExpert: [UInt64](repeating: 1, count: layout.expertCount)
        )
        let manifestText = String(decoding: try manifest.canonicalBytes(), as: UTF8.self)
        // Checkpoints: mutate the JSON header (where the offsets and shapes are) more often than the data.
        let headerLength = Int(checkpoint.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let budget = Budget()
        var iteration = 0, manifests = 0, checkpoints = 0
        while budget.allows(iteration) {
            if iteration % 2 == 0 {
                if let decoded = try? ModelManifest.decode(Self.mutateJSON(manifestText, &random)) {
                    manifests += 1
                    #expect(try ModelManifest.decode(decoded.canonicalBytes()) == decoded)
                }
            } else {
                var bytes = checkpoint
                switch random.next() % 4 {
                case 0, 1:
                    for _ in 0..<(1 + random.next() % 3) {
                        bytes[8 + Int(random.next() % UInt64(min(headerLength, bytes.count - 8)))] = UInt8(truncatingIfNeeded: random.next())
                    }
                case 2:
                    bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
                default:
                    for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: random.next() >> (8 * UInt64(index))) }
                }
                do {
                    _ = try MoEPolicy(checkpoint: bytes)
                    checkpoints += 1
                } catch {
                    #expect(!"\(error)".isEmpty)
                }
            }
            iteration += 1
        }
        #expect(manifests > 0)
        print("fuzz manifests and checkpoints: \(iteration) inputs, \(manifests) manifests and \(checkpoints) checkpoints decoded")
    }

    /// A random update against the base policy: mostly plausible, with one
    /// extreme count, value, addition or version now and then.
    static func hostileDelta(_ random: inout SplitMix, layout: ModelLayout, node: String) -> PolicyDelta {
        let extremeCounts: [UInt64] = [0, 1 << 32, 1 << 40, (1 << 40) + 1, 1 << 63, .max]
        let extremeValues: [Float] = [1e-30, 1e4, 1e10, 3e38, -3e38, .greatestFiniteMagnitude]
        func chance(_ oneIn: UInt64) -> Bool { random.next() % oneIn == 0 }
        let added = chance(6) ? Int(random.next() % 3) : 0
        var tensors: [TensorDelta] = []
        for entry in layout.entries where chance(3) {
            let extreme = chance(8) ? extremeValues[Int(random.next() % UInt64(extremeValues.count))] : nil
            let values = (0..<entry.elementCount).map { _ in extreme ?? (Float(random.next() % 2_001) - 1_000) / 100_000 }
            tensors.append(TensorDelta(name: entry.name, shape: entry.shape, payload: .dense(values)))
        }
        for expert in layout.expertCount..<(layout.expertCount + added) {
            let index = chance(3) ? expert + 7 : expert
            let entry = layout.entries.first { $0.expert == 0 }!
            tensors.append(TensorDelta(
                name: entry.name.replacingOccurrences(of: "experts.0.", with: "experts.\(index)."), role: .addition, shape: entry.shape,
                payload: .dense([Float](repeating: 0.1, count: entry.elementCount))))
        }
        tensors.sort { $0.name < $1.name }
        let versions: [UInt64] = [0, 2, .max]
        return PolicyDelta(
            architecture: layout.architecture, baseVersion: chance(8) ? versions[Int(random.next() % 3)] : 1, round: 1, nodeID: node,
            tensors: tensors,
            routingCounts: (0..<(layout.expertCount + added)).map { _ in
                chance(10) ? extremeCounts[Int(random.next() % UInt64(extremeCounts.count))] : random.next() % 10_000
            },
            metadata: DeltaMetadata(families: ["ice"], samples: 1, captures: 1)
        )
    }

    @Test("update containers with extreme counts and values: refused with an aggregation error or folded; the round's mean stays finite",
          arguments: [AggregationConfiguration(), AggregationConfiguration(normBound: nil, clipNorm: nil, sampleCap: nil)])
    func updates(configuration: AggregationConfiguration) throws {
        var random = SplitMix(0xDE17A)
        let layout = ModelLayout(policy: Self.smallPolicy)
        let budget = Budget()
        var aggregator = try RoundAggregator(layout: layout, configuration: configuration, currentVersion: 1, round: 1)
        var iteration = 0, accepted = 0, folded = 0
        var refusals: [AggregationError.Code: Int] = [:]
        while budget.allows(iteration) {
            let delta = Self.hostileDelta(&random, layout: layout, node: "node-\(iteration)")
            do {
                if iteration % 2 == 0 {
                    try aggregator.add(try DeltaCodec.scan(DeltaCodec.encode(delta)))
                } else {
                    try aggregator.add(delta)
                }
                accepted += 1
                folded += 1
            } catch let error as AggregationError {
                refusals[error.code, default: 0] += 1
            }
            // Finalize every so often, as rounds end: nothing accepted may make the mean non-finite.
            if iteration % 500 == 499, accepted > 0 {
                let result = try aggregator.finalize()
                #expect(result.meanDelta.values.allSatisfy { $0.allSatisfy(\.isFinite) })
                aggregator = try RoundAggregator(layout: layout, configuration: configuration, currentVersion: 1, round: 1)
                accepted = 0
            }
            iteration += 1
        }
        #expect(refusals[.implausibleValue, default: 0] > 0)
        #expect(refusals[.invalidAddition, default: 0] > 0)
        #expect(folded > 0)
        print("fuzz updates: \(iteration) inputs, \(folded) folded, refusals \(refusals.map { "\($0.key) \($0.value)" }.sorted())")
    }
}

/// A small deterministic generator for fuzz inputs.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
