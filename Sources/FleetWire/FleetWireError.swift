/// An error raised while encoding or decoding something that crosses the wire.
///
/// Everything a node or the coordinator receives is untrusted; every way it can
/// be wrong has a code, so callers (and tests) match on ``code`` while people
/// read ``message``. Equality and hashing consider the code only.
public struct FleetWireError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The kind of problem, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Compression failed (an internal zstd error while encoding).
        public static let compressionFailed = Code("compressionFailed")
        /// The compressed bytes are not a valid zstd stream.
        public static let corruptCompressedData = Code("corruptCompressedData")
        /// The zstd stream ended before its frame was complete.
        public static let truncatedCompressedData = Code("truncatedCompressedData")
        /// The bytes would decompress past the allowed size.
        public static let decompressedSizeLimitExceeded = Code("decompressedSizeLimitExceeded")
        /// The body is larger than the allowed size before decompression.
        public static let compressedSizeLimitExceeded = Code("compressedSizeLimitExceeded")

        /// The input ends before a field it declares.
        public static let truncated = Code("truncated")
        /// The input does not start with the expected magic bytes.
        public static let badMagic = Code("badMagic")
        /// The format version is not one this decoder reads.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// A field holds a value the format does not allow.
        public static let invalidField = Code("invalidField")
        /// A declared count or size is past the configured limit.
        public static let limitExceeded = Code("limitExceeded")
        /// A tensor's shape is impossible or does not match its payload or the model.
        public static let invalidShape = Code("invalidShape")
        /// A sparse index is out of range, repeated or out of order.
        public static let invalidIndex = Code("invalidIndex")
        /// A value or scale is NaN or infinite.
        public static let nonFiniteValue = Code("nonFiniteValue")
        /// The metadata is not the JSON object the format requires.
        public static let invalidMetadata = Code("invalidMetadata")
        /// The checksum does not match the content.
        public static let checksumMismatch = Code("checksumMismatch")
        /// Bytes follow the end of the container.
        public static let trailingBytes = Code("trailingBytes")
        /// A well-formed delta does not fit the model it is applied to
        /// (another architecture, a tensor the model lacks, a wrong shape).
        public static let modelMismatch = Code("modelMismatch")
    }

    public let code: Code
    /// What went wrong, in words a person can act on.
    public let message: String
    /// Where it was raised, for logs.
    public let location: String

    public init(_ code: Code, _ message: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    public var description: String { "FleetWireError.\(code): \(message)" }

    public static func == (lhs: FleetWireError, rhs: FleetWireError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
