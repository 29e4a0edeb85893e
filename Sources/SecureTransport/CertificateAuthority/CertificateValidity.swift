public import Foundation

/// The period in which a certificate is valid.
public struct CertificateValidity: Sendable, Equatable {
    /// The first moment the certificate is valid.
    public var notBefore: Date
    /// The last moment the certificate is valid.
    public var notAfter: Date

    /// Creates a validity period.
    public init(notBefore: Date, notAfter: Date) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Valid from one hour ago (tolerating clock skew between nodes) for `days` days.
    public static func days(_ days: Int, from now: Date = Date()) -> CertificateValidity {
        CertificateValidity(
            notBefore: now.addingTimeInterval(-3600),
            notAfter: now.addingTimeInterval(TimeInterval(days) * 86_400)
        )
    }
}

/// A certificate with the private key it was issued for.
public struct IssuedCertificate: Sendable {
    /// The certificate.
    public let certificate: Certificate
    /// Its private key.
    public let privateKey: PrivateKey

    /// Writes the certificate (mode 0644) and the key (mode 0600) as PEM files.
    public func write(certificateFile: String, keyFile: String) throws(TLSError) {
        try privateKey.write(toFile: keyFile)
        try FileIO.write(certificate.pem, to: certificateFile, mode: 0o644)
    }
}
