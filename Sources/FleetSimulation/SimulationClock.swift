import Coordinator
import Synchronization

/// The coordinator's clock in a simulation: time moves only when the
/// simulation moves it.
///
/// Why: a simulated round is as long as its nodes take to learn, not a
/// wall-clock deadline. The simulation lets every node learn and upload,
/// then moves the clock past the round's deadline and ticks the
/// coordinator — so the same seed gives the same rounds, whatever the
/// machine's speed.
final class SimulationClock: CoordinatorClock {
    private let time: Mutex<Double>

    init(start: Double) { time = Mutex(start) }

    func now() -> Double { time.withLock { $0 } }

    func advance(by seconds: Double) { time.withLock { $0 += seconds } }

    /// Long polls return at once: nothing waits in a simulation.
    func sleep(seconds: Double) async throws { await Task.yield() }
}
