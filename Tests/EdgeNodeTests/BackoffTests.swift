import Testing
import EdgeNode

@Suite("retry backoff")
struct BackoffTests {
    @Test("delays grow exponentially under a cap and start over after a success")
    func growth() {
        var backoff = Backoff(base: 0.5, cap: 8, seed: 1)
        var ceilings: [Double] = []
        for _ in 0..<7 {
            ceilings.append(backoff.nextCeiling)
            let delay = backoff.nextDelay()
            #expect(delay >= 0 && delay < ceilings.last!)
        }
        #expect(ceilings == [0.5, 1, 2, 4, 8, 8, 8])
        backoff.reset()
        #expect(backoff.nextCeiling == 0.5)
    }

    @Test("jitter spreads a fleet's retries, reproducibly per seed")
    func jitter() {
        func delays(seed: UInt64) -> [Double] {
            var backoff = Backoff(base: 1, cap: 60, seed: seed)
            return (0..<6).map { _ in backoff.nextDelay() }
        }
        #expect(delays(seed: 7) == delays(seed: 7))
        // A thousand nodes failing together do not retry together: their sixth retries spread over [0, 32) s.
        let sixthRetries = (0..<1_000).map { delays(seed: UInt64($0))[5] }
        let buckets = Dictionary(grouping: sixthRetries) { Int($0 / 4) }
        #expect(buckets.count >= 7)  // of the 8 four-second buckets
        #expect(buckets.values.map(\.count).max()! < 250)
    }
}
