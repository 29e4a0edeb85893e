import Testing
import EdgeNode

@Suite("node sync state machine")
struct SyncStateMachineTests {
    typealias Machine = SyncStateMachine
    let task = Machine.Task(round: 4, baseVersion: 2)

    func machine(installed: UInt64 = 2) -> Machine {
        Machine(installedVersion: installed, backoff: Backoff(base: 1, cap: 8, seed: 3))
    }

    @Test("a task on the installed model is adapted and uploaded, then the node polls again")
    func happyPath() {
        var node = machine()
        #expect(node.start() == .pollTask)
        #expect(node.taskReceived(task) == .adapt(task))
        #expect(node.adaptationFinished(producedDelta: true) == .upload(task))
        #expect(node.uploadFinished(.accepted, now: 10) == .pollTask)
        #expect(node.state == .polling)
    }

    @Test("a task on another version fetches and verifies that model first")
    func fetchBaseFirst() {
        var node = machine(installed: 1)
        #expect(node.taskReceived(task) == .fetchModel(version: 2))
        #expect(node.modelInstalled(version: 2) == .adapt(task))
        #expect(node.installedVersion == 2)
    }

    @Test("a newer published version is pulled when there is no task")
    func pullNewVersion() {
        var node = machine()
        #expect(node.noTask(latestVersion: 2) == .pollTask)
        #expect(node.noTask(latestVersion: 3) == .fetchModel(version: 3))
        #expect(node.modelInstalled(version: 3) == .pollTask)
    }

    @Test("an unreachable coordinator is retried after jittered waits under a doubling ceiling, resuming the same step")
    func transportFailures() {
        var node = machine()
        _ = node.taskReceived(task)
        _ = node.adaptationFinished(producedDelta: true)
        var now = 0.0
        var waits: [Double] = []
        for _ in 0..<4 {
            guard case .sleep(let until) = node.uploadFinished(.transportFailure, now: now) else {
                Issue.record("a transport failure must back off")
                return
            }
            waits.append(until - now)
            #expect(node.timerFired(now: until - 0.001) == .sleep(until: until))  // not yet
            now = until
            #expect(node.timerFired(now: now) == .upload(task))  // the same delta again
        }
        #expect(zip(waits, [1.0, 2, 4, 8]).allSatisfy { $0 < $1 })
        #expect(node.uploadFinished(.accepted, now: now) == .pollTask)
    }

    @Test("a download that fails verification is never installed; the task survives a failed fetch")
    func fetchFailures() {
        var node = machine(installed: 1)
        _ = node.taskReceived(task)
        guard case .sleep(let until) = node.transportFailed(now: 0) else {
            Issue.record("a failed download must back off")
            return
        }
        #expect(node.timerFired(now: until) == .fetchModel(version: 2))
        #expect(node.modelInstalled(version: 2) == .adapt(task))

        var other = machine(installed: 1)
        _ = other.taskReceived(task)
        guard case .sleep = other.modelRejected(now: 0) else {
            Issue.record("a rejected model must back off")
            return
        }
        #expect(other.installedVersion == 1)
    }

    @Test("a refusal a retry cannot fix drops the delta instead of retrying forever")
    func refusals() {
        var node = machine()
        _ = node.taskReceived(task)
        _ = node.adaptationFinished(producedDelta: true)
        #expect(node.uploadFinished(.refused(status: 409, code: "round_closed"), now: 1) == .pollTask)
        #expect(node.refusedUploads == 1)
        #expect(node.state == .polling)
    }
}
