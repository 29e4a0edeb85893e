import Aggregation
import FleetWire
import Foundation

/// The coordinator's aggregation path on the bodies of the run, against a
/// `memcpy` of the same bytes, both timed in this process in the same run.
///
/// Why this comparison: the goal is aggregation at ≥ 50 % of memory
/// bandwidth. Bytes counted are those of BENCHMARKS.md "Aggregation": the
/// decoded float32 bytes an update touches (4 × the elements of every tensor
/// it carries). Timed per pass over all bodies: `DeltaCodec.scanCompressed`
/// (zstd + every check + norms) and `RoundAggregator.add(ScannedDelta)`
/// (validation + fold) — exactly what the coordinator runs per upload — and,
/// as a second row, the same without zstd (bodies decompressed beforehand).
/// memcpy copies each update's touched bytes from its own source buffer.
/// Times are CPU time of this thread (`CLOCK_THREAD_CPUTIME_ID`), so other
/// load on the machine does not count against either side.
enum AggregationAgainstMemcpy {
    struct Result {
        var bytesPerPass: Int
        var compressedSeconds: Double
        var containerSeconds: Double
        var memcpySeconds: Double
    }

    static func measure(bodies: [[UInt8]], layout: ModelLayout, round: UInt64, baseVersion: UInt64, trials: Int) throws -> Result {
        let containers = try bodies.map { try Zstd.decompress($0, limit: DeltaLimits.default.maxDecompressedBytes) }
        let touched = try containers.map { try DeltaCodec.scan($0).tensors.reduce(0) { $0 + 4 * $1.elementCount } }
        let sources = touched.map { [UInt8](repeating: 1, count: $0) }
        var target = [UInt8](repeating: 0, count: touched.max() ?? 0)
        var compressed: [Double] = [], container: [Double] = [], copy: [Double] = []
        for _ in 0..<trials {
            compressed.append(try time {
                var aggregator = try RoundAggregator(layout: layout, currentVersion: baseVersion, round: round)
                for body in bodies { try aggregator.add(DeltaCodec.scanCompressed(body)) }
            })
            container.append(try time {
                var aggregator = try RoundAggregator(layout: layout, currentVersion: baseVersion, round: round)
                for bytes in containers { try aggregator.add(DeltaCodec.scan(bytes)) }
            })
            copy.append(time {
                target.withUnsafeMutableBytes { destination in
                    for source in sources {
                        source.withUnsafeBytes { _ = memcpy(destination.baseAddress!, $0.baseAddress!, $0.count) }
                    }
                }
            })
        }
        return Result(
            bytesPerPass: touched.reduce(0, +), compressedSeconds: median(compressed),
            containerSeconds: median(container), memcpySeconds: median(copy)
        )
    }

    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = threadCPUTime()
        try body()
        return threadCPUTime() - start
    }

    static func threadCPUTime() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
