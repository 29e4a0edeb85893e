import DrivingSimulator
import Foundation
import Testing
@testable import EdgeNode

/// A new policy takes the wheel at the next decision; the drive never stops for it.
@Suite("Hot swap")
struct HotSwapTests {
    let fleet = TestFleet.shared

    @Test("the driver switches to a newly installed version mid-episode")
    func swapMidEpisode() throws {
        let content = SimulatorContent(root: fleet.simulator)
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        let (_, world) = try library.build(ScenarioBuilder.episode(library.scenarios[0], index: 0))
        let live = LivePolicy(.init(version: 1, policy: fleet.basePolicy))
        var driver = SwappablePolicyDriver(live: live)
        var state = world
        var observation = Observation()
        for step in 0..<20 {
            if step == 10 { live.install(version: 2, policy: fleet.basePolicy) }
            state.observe(into: &observation)
            let action = driver.decide(observation, context: DriverContext(world: state, decisionSteps: 3))
            state.advance(with: action, steps: 3)
        }
        #expect(driver.decisionsByVersion == [1: 10, 2: 10])
        #expect(driver.version == 2)
    }
}
