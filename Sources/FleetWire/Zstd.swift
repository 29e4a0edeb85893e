import CZstd
import Synchronization

/// zstd compression for model and delta bodies (`Content-Encoding: zstd`).
///
/// Decompression is always bounded: a peer controls the bytes, so a frame
/// that claims (or turns out) to expand past `limit` is refused as soon as that
/// is known, without ever allocating more than `limit` bytes. That is what
/// makes a decompression bomb harmless.
public enum Zstd {
    /// The compression level used when none is given (zstd's own default).
    public static let defaultLevel: Int32 = 3

    /// Compresses `bytes` into one zstd frame that records its content size.
    public static func compress(_ bytes: some Collection<UInt8>, level: Int32 = defaultLevel) throws(FleetWireError) -> [UInt8] {
        let input = Array(bytes)
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, level)
            }
        }
        if ZSTD_isError(written) != 0 {
            throw FleetWireError(.compressionFailed, "zstd could not compress \(input.count) bytes: \(errorName(written))")
        }
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses one or more concatenated zstd frames, refusing to produce more than `limit` bytes.
    ///
    /// - Parameters:
    ///   - bytes: The compressed body, untrusted.
    ///   - limit: The largest decompressed size accepted.
    /// - Throws: ``FleetWireError`` with code `decompressedSizeLimitExceeded`,
    ///   `corruptCompressedData` or `truncatedCompressedData`.
    public static func decompress(_ bytes: some Collection<UInt8>, limit: Int) throws(FleetWireError) -> [UInt8] {
        let input = Array(bytes)
        if input.isEmpty {
            throw FleetWireError(.truncatedCompressedData, "the zstd body is empty")
        }
        let declared = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        if declared == fleet_zstd_contentsize_error() {
            throw FleetWireError(.corruptCompressedData, "the body does not start with a zstd frame header")
        }
        if declared != fleet_zstd_contentsize_unknown(), declared > UInt64(limit) {
            throw FleetWireError(
                .decompressedSizeLimitExceeded,
                "the zstd frame declares \(declared) bytes, more than the limit of \(limit)"
            )
        }

        guard let decompressor = DecompressionContext.take() else {
            throw FleetWireError(.corruptCompressedData, "zstd could not allocate a decompression context")
        }
        defer { DecompressionContext.give(back: decompressor) }
        let context = decompressor.context

        // One frame that states its size (what our encoder writes): decode it in
        // one call straight into a buffer of that size. Anything else — more
        // frames, a size that is wrong, corruption — takes the bounded
        // streaming path below, which names the problem.
        if declared != fleet_zstd_contentsize_unknown(), declared > 0 {
            let size = Int(declared)
            var decoded = false
            let output = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                let result = input.withUnsafeBytes { source in
                    ZSTD_decompressDCtx(context, buffer.baseAddress, size, source.baseAddress, source.count)
                }
                decoded = ZSTD_isError(result) == 0 && result == size
                initialized = decoded ? size : 0
            }
            if decoded { return output }
            ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        }

        // Grow the output in steps, never past limit + 1 (one byte over proves the excess).
        let firstGuess = declared != fleet_zstd_contentsize_unknown() ? Int(declared) : min(limit, max(4 * input.count, 1 << 16))
        let firstSize = min(limit + 1, max(firstGuess, 1))
        var output = [UInt8](unsafeUninitializedCapacity: firstSize) { _, initialized in
            initialized = firstSize  // zstd writes every byte before it is read; the unused rest is cut below
        }
        var produced = 0
        var consumed = 0
        while true {
            let (result, newConsumed, newProduced) = input.withUnsafeBytes { source in
                output.withUnsafeMutableBytes { destination in
                    var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: consumed)
                    var outBuffer = ZSTD_outBuffer(dst: destination.baseAddress, size: destination.count, pos: produced)
                    let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    return (result, inBuffer.pos, outBuffer.pos)
                }
            }
            if ZSTD_isError(result) != 0 {
                throw FleetWireError(.corruptCompressedData, "the zstd body is corrupt: \(errorName(result))")
            }
            consumed = newConsumed
            produced = newProduced
            if produced > limit {
                throw FleetWireError(.decompressedSizeLimitExceeded, "the zstd body expands past the limit of \(limit) bytes")
            }
            if result == 0 && consumed == input.count {
                break  // every frame decoded and flushed
            }
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: min(output.count, limit + 1 - output.count)))
            } else if consumed == input.count {
                throw FleetWireError(.truncatedCompressedData, "the zstd body ends inside a frame")
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// A zstd decompression context, kept for reuse.
    ///
    /// Creating a context allocates about 100 KB of tables; on the upload path
    /// that cost more than decompressing a delta. A few contexts wait in a
    /// pool instead: a caller takes one (or makes one when the pool is empty),
    /// uses it alone, resets it and gives it back. It is `@unchecked Sendable`
    /// because the pool hands each context to one caller at a time.
    private final class DecompressionContext: @unchecked Sendable {
        let context: OpaquePointer
        private static let pool = Mutex<[DecompressionContext]>([])
        private static let poolCapacity = 8

        private init?() {
            guard let context = ZSTD_createDCtx() else { return nil }
            self.context = context
        }

        deinit { ZSTD_freeDCtx(context) }

        static func take() -> DecompressionContext? {
            pool.withLock { $0.popLast() } ?? DecompressionContext()
        }

        static func give(back decompressor: DecompressionContext) {
            ZSTD_DCtx_reset(decompressor.context, ZSTD_reset_session_only)
            pool.withLock { contexts in
                if contexts.count < poolCapacity { contexts.append(decompressor) }
            }
        }
    }

    private static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}
