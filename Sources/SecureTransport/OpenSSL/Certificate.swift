public import Foundation
import COpenSSL

/// An X.509 certificate held by OpenSSL.
///
/// Why a final class: the `X509*` it owns is reference counted by OpenSSL and
/// freed in `deinit`; no raw pointer leaves this module. A certificate is never
/// mutated after it is built, so sharing it across threads is safe.
public final class Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of one reference to `pointer`.
    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    /// Shares `pointer`, adding a reference of our own.
    init(borrowing pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Parses every certificate in a PEM text, in order.
    /// - Throws: `TLSError.invalidCertificate` when the text holds none or one is malformed.
    public static func chain(pem: String) throws(TLSError) -> [Certificate] {
        let bio = try MemoryBIO(bytes: Array(pem.utf8))
        var certificates: [Certificate] = []
        OpenSSLErrorQueue.clear()
        while let x509 = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            certificates.append(Certificate(taking: x509))
        }
        // Reading stops with a "no start line" error at the end of input; that one is expected.
        let errors = OpenSSLErrorQueue.drain().filter { !$0.contains("no start line") }
        guard !certificates.isEmpty, errors.isEmpty else {
            throw TLSError(.invalidCertificate, "no valid PEM certificate found", openSSLErrors: errors)
        }
        return certificates
    }

    /// Parses the first certificate of a PEM text.
    public convenience init(pem: String) throws(TLSError) {
        let bio = try MemoryBIO(bytes: Array(pem.utf8))
        guard let x509 = PEM_read_bio_X509(bio.pointer, nil, nil, nil) else {
            throw TLSError.drained(.invalidCertificate, "the text is not a PEM certificate")
        }
        self.init(taking: x509)
    }

    /// Reads the first certificate of a PEM file.
    public convenience init(pemFile path: String) throws(TLSError) {
        try self.init(pem: try FileIO.readText(path))
    }

    /// The certificate in PEM form (`-----BEGIN CERTIFICATE-----`).
    public var pem: String {
        guard let bio = try? MemoryBIO(), PEM_write_bio_X509(bio.pointer, pointer) == 1 else { return "" }
        return bio.string()
    }

    /// The serial number as upper-case hexadecimal without leading zeros (as `openssl x509 -serial` prints it).
    public var serialNumberHex: String {
        guard let serial = X509_get0_serialNumber(pointer),
              let bignum = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bignum) }
        guard let hex = BN_bn2hex(bignum) else { return "" }
        defer { fleet_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// The subject's common name, if there is one.
    public var commonName: String? {
        guard let name = X509_get_subject_name(pointer) else { return nil }
        var buffer = [CChar](repeating: 0, count: 256)
        let length = X509_NAME_get_text_by_NID(name, NID_commonName, &buffer, Int32(buffer.count))
        guard length >= 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The URIs in the subject alternative name extension.
    public var uniformResourceIdentifiers: [String] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var uris: [String] = []
        for index in 0..<fleet_sk_GENERAL_NAME_num(names) {
            var data: UnsafePointer<UInt8>? = nil
            let length = fleet_GENERAL_NAME_uri(fleet_sk_GENERAL_NAME_value(names, index), &data)
            if length >= 0, let data {
                uris.append(String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self))
            }
        }
        return uris
    }

    /// The fleet node id named by a `fleet://node/<id>` URI, if the certificate has one.
    public var nodeID: String? {
        uniformResourceIdentifiers.lazy.compactMap(NodeIdentity.nodeID(fromURI:)).first
    }

    /// The end of the validity period.
    public var notAfter: Date? { Self.date(X509_get0_notAfter(pointer)) }

    /// The start of the validity period.
    public var notBefore: Date? { Self.date(X509_get0_notBefore(pointer)) }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var broken = tm()
        guard ASN1_TIME_to_tm(time, &broken) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&broken)))
    }

    /// The certificate's public key.
    public var publicKey: PublicKey? {
        guard let key = X509_get_pubkey(pointer) else { return nil }
        return PublicKey(taking: key)
    }
}
