import COpenSSL
import NIOCore

/// The BIO method OpenSSL writes outgoing ciphertext through: it appends
/// straight into the engine's `ByteBuffer`.
///
/// Why not a second memory BIO: with a memory BIO every ciphertext byte is
/// copied twice (into the BIO, then out into a `ByteBuffer` for the channel);
/// appending in the write callback copies it once. The BIO's data pointer is
/// the (unretained) engine, which owns the `SSL*` that owns the BIO, so it
/// never outlives the engine.
enum CiphertextOutputBIO {
    /// The method, created once per process.
    nonisolated(unsafe) static let method: OpaquePointer = {
        let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fleet ciphertext output")!
        BIO_meth_set_write_ex(method, write)
        BIO_meth_set_ctrl(method, control)
        BIO_meth_set_create(method, create)
        return method
    }()

    /// A new BIO delivering into `engine.outbound`.
    static func make(for engine: TLSEngine) -> OpaquePointer? {
        guard let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(engine).toOpaque())
        return bio
    }

    private static let create: @convention(c) (OpaquePointer?) -> Int32 = { bio in
        BIO_set_init(bio, 1)
        return 1
    }

    private static let write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
        bio, data, length, written in
        guard let bio, let data, let written, let raw = BIO_get_data(bio) else { return 0 }
        let engine = Unmanaged<TLSEngine>.fromOpaque(raw).takeUnretainedValue()
        engine.outbound.writeBytes(UnsafeRawBufferPointer(start: data, count: length))
        written.pointee = length
        return 1
    }

    private static let control: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int = {
        _, command, _, _ in
        // Everything is delivered at once, so a flush always succeeds and nothing is ever pending.
        command == BIO_CTRL_FLUSH ? 1 : 0
    }
}
