/// An error raised by the secure transport layer.
///
/// Why a struct and not an enum: new failure kinds can be added without
/// breaking callers that switch over codes, and every error carries what a
/// person needs to act on it — a stable `code` to match on, a `message` in
/// plain words, and the OpenSSL error queue that was drained when it happened.
/// Two errors are equal when their codes are equal.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable identifier of the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `handshakeFailed`.
        public let name: String

        init(_ name: String) { self.name = name }

        public var description: String { name }

        /// The TLS handshake failed (bad peer, wrong protocol version, bad bytes).
        public static let handshakeFailed = Code("handshakeFailed")
        /// The peer presented no certificate although one is required.
        public static let peerCertificateMissing = Code("peerCertificateMissing")
        /// The peer's certificate did not verify against the trust roots.
        public static let peerCertificateRejected = Code("peerCertificateRejected")
        /// The peer's certificate serial is on the revocation list.
        public static let certificateRevoked = Code("certificateRevoked")
        /// The peer's certificate carries no `fleet://node/<id>` identity.
        public static let nodeIdentityMissing = Code("nodeIdentityMissing")
        /// The connection ended without a TLS close_notify alert.
        public static let uncleanShutdown = Code("uncleanShutdown")
        /// Decrypting application data failed (corrupt or truncated records).
        public static let recordFailure = Code("recordFailure")
        /// The peer did not answer our close_notify in time.
        public static let closeTimeout = Code("closeTimeout")
        /// Data was written after the connection started closing.
        public static let writeAfterClose = Code("writeAfterClose")
        /// The peer did not complete the TLS handshake within the server's time limit.
        public static let handshakeTimeout = Code("handshakeTimeout")
        /// A connection was closed at once because a connection limit was reached.
        public static let connectionLimitReached = Code("connectionLimitReached")
        /// Too much plaintext was written before the handshake completed.
        public static let bufferLimitExceeded = Code("bufferLimitExceeded")
        /// A configuration value is missing or inconsistent.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A certificate could not be parsed, built or serialized.
        public static let invalidCertificate = Code("invalidCertificate")
        /// A private or public key could not be parsed, built or serialized.
        public static let invalidKey = Code("invalidKey")
        /// Reading or writing a file failed.
        public static let fileSystem = Code("fileSystem")
        /// A signature did not verify.
        public static let signatureInvalid = Code("signatureInvalid")
        /// OpenSSL failed in a way no other code describes.
        public static let internalFailure = Code("internalFailure")
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, in words a person can act on.
    public var message: String
    /// The OpenSSL error queue drained when the error was raised, oldest first.
    public var openSSLErrors: [String]
    /// Where the error was raised (`#fileID:#line`).
    public var location: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What went wrong.
    ///   - openSSLErrors: Drained OpenSSL error strings, if any.
    public init(
        _ code: Code,
        _ message: String,
        openSSLErrors: [String] = [],
        fileID: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.openSSLErrors = openSSLErrors
        self.location = "\(fileID):\(line)"
    }

    public static func == (lhs: TLSError, rhs: TLSError) -> Bool { lhs.code == rhs.code }

    public var description: String {
        var text = "TLSError.\(code): \(message)"
        if !openSSLErrors.isEmpty {
            text += " [" + openSSLErrors.joined(separator: "; ") + "]"
        }
        return text
    }

    /// Creates an error carrying the current OpenSSL error queue, which it empties.
    static func drained(_ code: Code, _ message: String, fileID: String = #fileID, line: Int = #line) -> TLSError {
        TLSError(code, message, openSSLErrors: OpenSSLErrorQueue.drain(), fileID: fileID, line: line)
    }
}
