import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Threads of their own for adaptation, at a lower scheduling priority than driving.
///
/// Why: a lesson is minutes of CPU-bound simulation and training with no
/// suspension points. On Swift's cooperative pool (one thread per core) it
/// would occupy every thread, and the drive loop, the heartbeats that keep the
/// node alive and the shutdown would all wait behind it — the very failure
/// ("a healthy node declared dead during long local work") the heartbeats
/// exist to prevent. Tasks started with this executor as their preference
/// (and the child tasks they create) run here instead; the kernel shares the
/// cores, and the raised nice value lets driving win when both want a core.
final class LearningExecutor: TaskExecutor, @unchecked Sendable {
    /// Two threads: the labeller's default concurrency.
    static let shared = LearningExecutor(threads: 2, niceness: 5)

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var next = 0

    private init(threads: Int, niceness: Int32) {
        for index in 0..<threads {
            let thread = Thread { [self] in
                Self.lowerPriority(by: niceness)
                work()
            }
            thread.name = "fleet-learning-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() -> Never {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Raises this thread's nice value (on Linux `who = 0` names the calling thread: nice values are per thread).
    private static func lowerPriority(by niceness: Int32) {
        #if canImport(Glibc)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        #endif
    }
}
