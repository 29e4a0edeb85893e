internal import CBLAS

/// Thin, typed access to the few OpenBLAS routines the network needs.
///
/// Every matrix here is row-major and contiguous; `gemm` computes
/// `C = alpha · op(A) · op(B) + beta · C` with `op` a transpose or not. Keeping
/// the C calls in one file means no CBLAS type leaks into the rest of the module.
enum BLAS {
    @inline(__always)
    static func gemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        BLASThreads.applyDefaultOnce()
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc)
        )
    }
}

/// The number of threads OpenBLAS uses for matrix products.
///
/// The matrices of a policy are small (tens to hundreds of rows), and on a
/// two-core machine OpenBLAS is fastest single-threaded for them: waking a second
/// thread costs more than it saves, and the other core is better spent on other
/// work. The first product therefore sets one thread unless ``set(_:)`` was
/// called before.
public enum BLASThreads {
    private static let defaultApplied: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    static func applyDefaultOnce() {
        _ = defaultApplied
    }

    /// Sets the number of OpenBLAS threads (at least 1).
    public static func set(_ count: Int) {
        applyDefaultOnce()
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var count: Int {
        applyDefaultOnce()
        return Int(openblas_get_num_threads())
    }
}
