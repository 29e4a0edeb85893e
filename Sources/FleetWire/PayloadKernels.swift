import CFleetWireKernels

/// The inner loops over a payload that still lies in its container: checked
/// squared norms for the scan, `sum += weight × value` for the fold, and
/// copies for ``ScannedTensor/materialize()``.
///
/// Aggregation should run near memory speed, so each loop walks its bytes
/// once with unaligned eight-lane loads (container fields have no alignment),
/// sparse int8 payloads track the current row instead of dividing per
/// element (multiply and add stay separate: without a guaranteed FMA unit a
/// fused multiply-add would be a library call), and float32 squares are summed in independent lanes (so the adds
/// do not wait on each other), one block at a time in double.
///
/// The wire is little-endian; so is every platform this builds for.
enum PayloadKernels {
    #if _endian(big)
    #error("the payload kernels read little-endian container bytes in place")
    #endif

    /// Whether the AVX2 + FMA versions of the float32 loops can run on this
    /// CPU (the package itself is built for baseline x86-64).
    private static let avx2 = fleet_float_kernels_available() == 1

    /// Whether the AVX-512 kernels (sparse indices and int8 values) can run on this CPU.
    static let avx512 = fleet_avx512_available() == 1

    // MARK: Norms (the scan)

    /// Σ x² over `count` float32 values, or the position of the first non-finite value.
    static func squaredNorm(ofFloats values: UnsafeRawPointer, count: Int) -> (norm: Double, nonFinite: Int?) {
        if avx2 {
            let total = fleet_float_squares(values, count)
            if total.isFinite { return (total, nil) }
            // Not finite: find the value, or sum the overflowing squares in double, below.
        }
        var total = 0.0
        var index = 0
        let block = 4_096
        while index < count {
            let start = index
            let end = min(count, index + block)
            var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
            while index + 32 <= end {
                let x0 = values.loadUnaligned(fromByteOffset: 4 * index, as: SIMD8<Float>.self)
                let x1 = values.loadUnaligned(fromByteOffset: 4 * (index + 8), as: SIMD8<Float>.self)
                let x2 = values.loadUnaligned(fromByteOffset: 4 * (index + 16), as: SIMD8<Float>.self)
                let x3 = values.loadUnaligned(fromByteOffset: 4 * (index + 24), as: SIMD8<Float>.self)
                a += x0 * x0
                b += x1 * x1
                c += x2 * x2
                d += x3 * x3
                index += 32
            }
            var partial = Double(((a + b) + (c + d)).sum())
            while index < end {
                let x = Double(values.loadUnaligned(fromByteOffset: 4 * index, as: Float.self))
                partial += x * x
                index += 1
            }
            if !partial.isFinite {
                // A NaN or infinity in the block — or finite values whose float32
                // squares overflowed: look closer, in double.
                partial = 0
                for position in start..<end {
                    let x = values.loadUnaligned(fromByteOffset: 4 * position, as: Float.self)
                    guard x.isFinite else { return (0, position) }
                    partial += Double(x) * Double(x)
                }
            }
            total += partial
        }
        return (total, nil)
    }

    /// Σ (q × scale[row])² over a dense int8 payload.
    static func squaredNorm(ofInt8Rows values: UnsafeRawPointer, scales: UnsafeRawPointer, rows: Int, columns: Int) -> Double {
        var total = 0.0
        for row in 0..<rows {
            var rowTotal: Int64 = 0
            let start = row * columns
            for column in 0..<columns {
                let q = Int64(values.load(fromByteOffset: start + column, as: Int8.self))
                rowTotal &+= q &* q
            }
            let scale = Double(scales.loadUnaligned(fromByteOffset: 4 * row, as: Float.self))
            total += Double(rowTotal) * scale * scale
        }
        return total
    }

    /// Decodes a sparse int8 payload once — `v = q × scale[row of index]`,
    /// appended to `buffer` as float32 bit patterns — and returns where the
    /// values start and Σ (q × scale)² (in double).
    ///
    /// Finding each index's row is the costly part of an int8 value; doing
    /// it here, in the pass that computes the norm, leaves the fold a plain
    /// float scatter.
    static func decodeSparseInt8(
        _ values: UnsafeRawPointer, scales: UnsafeRawPointer, rows: Int, indicesStart: Int, count: Int, columns: Int,
        into buffer: IndexBuffer
    ) -> (start: Int, squaredNorm: Double) {
        buffer.reserve(count, remainingBound: count)
        let start = buffer.count
        let decoded = buffer.free
        let indices = buffer.slice(indicesStart, count: count)
        if avx512 {
            let total = count == 0 ? 0 : fleet_decode_sparse_int8_avx512(
                values.assumingMemoryBound(to: Int8.self), scales, rows, indices.baseAddress!, count, UInt64(columns),
                UnsafeMutableRawPointer(decoded.baseAddress!).assumingMemoryBound(to: Float.self))
            buffer.commit(count)
            return (start, total)
        }
        let divisor = RowDivisor(columns)
        // Four sums, so that the adds do not wait on each other.
        var sums = SIMD4<Double>()
        var position = 0
        while position + 4 <= count {
            var lanes = SIMD4<Double>()
            for lane in 0..<4 {
                let q = values.load(fromByteOffset: position + lane, as: Int8.self)
                let scale = scales.loadUnaligned(fromByteOffset: 4 * divisor.row(of: indices[position + lane]), as: Float.self)
                decoded[position + lane] = (Float(q) * scale).bitPattern
                lanes[lane] = Double(q) * Double(scale)
            }
            sums += lanes * lanes
            position += 4
        }
        var total = sums.sum()
        while position < count {
            let q = values.load(fromByteOffset: position, as: Int8.self)
            let scale = scales.loadUnaligned(fromByteOffset: 4 * divisor.row(of: indices[position]), as: Float.self)
            decoded[position] = (Float(q) * scale).bitPattern
            let value = Double(q) * Double(scale)
            total += value * value
            position += 1
        }
        buffer.commit(count)
        return (start, total)
    }

    // MARK: Folds

    /// `sum[i] += weight × values[i]` for `count` float32 values.
    static func accumulateFloats(_ values: UnsafeRawPointer, count: Int, weight: Float, into sum: UnsafeMutablePointer<Float>) {
        if avx512 {
            fleet_float_accumulate_avx512(sum, values, count, weight)
            return
        }
        if avx2 {
            fleet_float_accumulate(sum, values, count, weight)
            return
        }
        let target = UnsafeMutableRawPointer(sum)
        let w = SIMD8<Float>(repeating: weight)
        var index = 0
        while index + 16 <= count {
            let x0 = values.loadUnaligned(fromByteOffset: 4 * index, as: SIMD8<Float>.self)
            let x1 = values.loadUnaligned(fromByteOffset: 4 * (index + 8), as: SIMD8<Float>.self)
            var s0 = target.loadUnaligned(fromByteOffset: 4 * index, as: SIMD8<Float>.self)
            var s1 = target.loadUnaligned(fromByteOffset: 4 * (index + 8), as: SIMD8<Float>.self)
            s0 += w * x0
            s1 += w * x1
            target.storeBytes(of: s0, toByteOffset: 4 * index, as: SIMD8<Float>.self)
            target.storeBytes(of: s1, toByteOffset: 4 * (index + 8), as: SIMD8<Float>.self)
            index += 16
        }
        while index < count {
            sum[index] += weight * values.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
            index += 1
        }
    }

    /// `sum[indices[k]] += weight × values[k]`.
    static func scatterFloats(
        _ values: UnsafeRawPointer, indices: UnsafeBufferPointer<UInt32>, weight: Float, into sum: UnsafeMutablePointer<Float>
    ) {
        guard let first = indices.baseAddress else { return }
        fleet_scatter_floats(sum, values, first, indices.count, weight)
    }

    /// `sum[row·columns + c] += weight × scale[row] × q[row·columns + c]`.
    static func accumulateInt8Rows(
        _ values: UnsafeRawPointer, scales: UnsafeRawPointer, rows: Int, columns: Int, weight: Float,
        into sum: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<rows {
            let factor = weight * scales.loadUnaligned(fromByteOffset: 4 * row, as: Float.self)
            let start = row * columns
            for column in 0..<columns {
                sum[start + column] += factor * Float(values.load(fromByteOffset: start + column, as: Int8.self))
            }
        }
    }

    // MARK: Copies

    static func floats(_ container: UnsafeRawBufferPointer, at offset: Int, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: container.baseAddress! + offset, byteCount: 4 * count)
            }
            initialized = count
        }
    }

    static func int8s(_ container: UnsafeRawBufferPointer, at offset: Int, count: Int) -> [Int8] {
        [Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: container.baseAddress! + offset, byteCount: count)
            }
            initialized = count
        }
    }
}

/// `n / d` for 32-bit `n` without a division instruction.
///
/// Sparse int8 payloads need the row of every index (its scale). Tracking
/// the row with a branch mispredicts at almost every row change when a row
/// keeps only a few values, and a hardware divide costs tens of cycles;
/// one multiply does it exactly: ⌊n / d⌋ = ⌊M·n / 2⁶⁴⌋ with
/// M = ⌊(2⁶⁴ − 1) / d⌋ + 1, for every 32-bit n and 1 < d < 2³²
/// (Lemire, Kaser & Kurz, "Faster remainder by direct computation", 2019).
struct RowDivisor {
    private let multiplier: UInt64
    private let identity: Bool

    init(_ divisor: Int) {
        precondition(divisor >= 1 && divisor <= Int(UInt32.max))
        identity = divisor == 1
        multiplier = identity ? 0 : UInt64.max / UInt64(divisor) &+ 1
    }

    @inline(__always)
    func row(of index: UInt32) -> Int {
        identity ? Int(index) : Int(multiplier.multipliedFullWidth(by: UInt64(index)).high)
    }
}
