import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Writes the node's metrics in the Prometheus text format to a file, every 15 s and once more at shutdown.
///
/// Why a file: a node sits behind NAT and serves nothing; node_exporter's
/// textfile collector (or any agent on the device) picks the file up. The
/// file is replaced atomically, so a reader never sees half of it.
struct MetricsFileWriter: Service {
    let registry: PrometheusCollectorRegistry
    let path: String
    let logger: Logger
    var interval: Duration = .seconds(15)

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            write()
            // Woken by graceful shutdown too, so stopping the node never waits out the interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        write()
    }

    private func write() {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(registry.emitToBuffer()).write(to: url, options: .atomic)
        } catch {
            logger.warning("the metrics file cannot be written", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}

extension Task where Success == Never, Failure == Never {
    /// Cancelled, or graceful shutdown has begun.
    static var isCancelledOrShuttingDown: Bool { isCancelled || isShuttingDownGracefully }
}
