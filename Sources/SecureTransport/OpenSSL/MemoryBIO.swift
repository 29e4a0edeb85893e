import COpenSSL

/// An OpenSSL memory BIO owned by Swift, used to move bytes in and out of
/// PEM/DER routines.
///
/// Why a class: a `BIO*` must be freed exactly once; `deinit` does it.
final class MemoryBIO {
    let pointer: OpaquePointer

    /// An empty, writable memory BIO.
    init() throws(TLSError) {
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw TLSError.drained(.internalFailure, "could not allocate a memory BIO")
        }
        pointer = bio
    }

    /// A memory BIO holding a copy of `bytes`.
    convenience init(bytes: some Collection<UInt8>) throws(TLSError) {
        try self.init()
        let array = Array(bytes)
        let written = array.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
        guard written == array.count || array.isEmpty else {
            throw TLSError.drained(.internalFailure, "could not fill a memory BIO")
        }
    }

    deinit { BIO_free(pointer) }

    /// Everything written into the BIO so far.
    func contents() -> [UInt8] {
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = fleet_BIO_get_mem_data(pointer, &data)
        guard length > 0, let data else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }

    /// Everything written so far, as text.
    func string() -> String { String(decoding: contents(), as: UTF8.self) }
}
