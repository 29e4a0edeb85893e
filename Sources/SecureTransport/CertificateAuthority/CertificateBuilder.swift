import COpenSSL
import Foundation

/// Builds and signs one X.509 v3 certificate with OpenSSL's X509 API.
///
/// Why a builder: the CA, server and node certificates differ only in their
/// names and extensions; the steps (serial, validity, names, key, extensions
/// in the OpenSSL config syntax, signature) are the same.
struct CertificateBuilder {
    var commonName: String
    var validity: CertificateValidity
    /// Extensions as (NID, OpenSSL config value), e.g. `(NID_basic_constraints, "critical,CA:TRUE")`.
    var extensions: [(Int32, String)]

    /// Signs a certificate for `subjectKey`. When `issuer` is nil the certificate is self-signed by `subjectKey`.
    func build(subjectKey: PrivateKey, issuer: (certificate: Certificate, key: PrivateKey)?) throws(TLSError) -> Certificate {
        OpenSSLErrorQueue.clear()
        guard let x509 = X509_new() else { throw TLSError.drained(.internalFailure, "X509_new failed") }
        let certificate = Certificate(taking: x509)
        guard X509_set_version(x509, 2) == 1 else { throw TLSError.drained(.invalidCertificate, "could not set the version") }
        try setSerial(x509)
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(validity.notBefore.timeIntervalSince1970)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x509), time_t(validity.notAfter.timeIntervalSince1970)) != nil
        else { throw TLSError.drained(.invalidCertificate, "could not set the validity period") }
        try setSubject(x509)
        let issuerCertificate = issuer?.certificate.pointer ?? x509
        guard X509_set_issuer_name(x509, X509_get_subject_name(issuerCertificate)) == 1 else {
            throw TLSError.drained(.invalidCertificate, "could not set the issuer name")
        }
        guard X509_set_pubkey(x509, subjectKey.pointer) == 1 else {
            throw TLSError.drained(.invalidKey, "could not set the public key")
        }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuerCertificate, x509, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw TLSError.drained(.invalidCertificate, "extension '\(value)' was rejected")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else {
                throw TLSError.drained(.invalidCertificate, "could not add extension '\(value)'")
            }
        }
        let signingKey = issuer?.key ?? subjectKey
        // Ed25519 signs the message itself, so it takes no digest.
        let digest = signingKey.algorithm == .ed25519 ? nil : EVP_sha256()
        guard X509_sign(x509, signingKey.pointer, digest) > 0 else {
            throw TLSError.drained(.invalidCertificate, "signing the certificate failed")
        }
        return certificate
    }

    /// A random 127-bit positive serial.
    ///
    /// Why random and unseeded: RFC 5280 serials must be unique per CA and
    /// should be unpredictable (CA/B Forum asks for 64+ random bits); a seed
    /// would make them repeat across runs.
    private func setSerial(_ x509: OpaquePointer) throws(TLSError) {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else {
            throw TLSError.drained(.internalFailure, "RAND_bytes failed")
        }
        bytes[0] = (bytes[0] & 0x7F) | 0x10
        guard let bignum = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw TLSError.drained(.internalFailure, "BN_bin2bn failed")
        }
        defer { BN_free(bignum) }
        guard BN_to_ASN1_INTEGER(bignum, X509_get_serialNumber(x509)) != nil else {
            throw TLSError.drained(.invalidCertificate, "could not set the serial number")
        }
    }

    private func setSubject(_ x509: OpaquePointer) throws(TLSError) {
        guard let name = X509_NAME_new() else { throw TLSError.drained(.internalFailure, "X509_NAME_new failed") }
        defer { X509_NAME_free(name) }
        for (field, value) in [("O", "Fleet Learning"), ("CN", commonName)] {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw TLSError.drained(.invalidCertificate, "subject \(field) '\(value)' was rejected")
            }
        }
        guard X509_set_subject_name(x509, name) == 1 else {
            throw TLSError.drained(.invalidCertificate, "could not set the subject name")
        }
    }
}
