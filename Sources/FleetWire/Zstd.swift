import CZstd

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

        guard let context = ZSTD_createDCtx() else {
            throw FleetWireError(.corruptCompressedData, "zstd could not allocate a decompression context")
        }
        defer { ZSTD_freeDCtx(context) }

        // Grow the output in steps, never past limit + 1 (one byte over proves the excess).
        let firstGuess = declared != fleet_zstd_contentsize_unknown() ? Int(declared) : min(limit, max(4 * input.count, 1 << 16))
        var output = [UInt8](repeating: 0, count: min(limit + 1, max(firstGuess, 1)))
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

    private static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}
