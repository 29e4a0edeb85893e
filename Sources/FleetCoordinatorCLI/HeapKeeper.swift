#if canImport(Glibc)
import Glibc
#endif
import ServiceLifecycle

/// Keeps the coordinator's resident memory to what it holds, not to what it
/// has served.
///
/// glibc's allocator gives each thread that allocates its own arena (up to
/// eight per core) and returns freed memory to the system only from the top
/// of an arena. The coordinator serves uploads on many threads, and the
/// buffers of finished requests — freed, but parked between longer-lived
/// blocks — kept its resident set growing with the number of requests
/// served. Two arenas keep the free memory in few places, and
/// `malloc_trim` once a second hands back every free page (it costs well
/// under a millisecond on the coordinator's heap).
struct HeapKeeper: Service {
    static let arenas: Int32 = 2
    var interval: Duration = .seconds(1)

    /// Caps the number of arenas from now on; call before serving starts.
    static func capArenas() {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let arenaMaxParameter: Int32 = -8  // M_ARENA_MAX in <malloc.h>
        guard let mallopt: Mallopt = symbol("mallopt") else { return }
        _ = mallopt(arenaMaxParameter, arenas)
    }

    /// Returns the free pages of every arena to the system.
    static func trim() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let mallocTrim: MallocTrim = symbol("malloc_trim") else { return }
        _ = mallocTrim(0)
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                Self.trim()
            }
        }
    }

    /// A function of glibc's `<malloc.h>`, which the Glibc module does not export; nil elsewhere.
    private static func symbol<F>(_ name: String) -> F? {
        #if canImport(Glibc)
        guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(pointer, to: F.self)
        #else
        return nil
        #endif
    }
}
