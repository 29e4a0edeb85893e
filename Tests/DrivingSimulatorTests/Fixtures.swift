import Foundation
@testable import DrivingSimulator

/// Paths and small worlds shared by the tests.
enum Fixtures {
    /// The repository's `Simulator/` directory, found from this file.
    static let content = SimulatorContent(root: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Simulator"))

    static let library: ScenarioLibrary = try! ScenarioLibrary.load(directory: content.scenarios)

    static func scenario(_ family: String) -> Scenario { library.scenario(family: family)! }

    /// Episode `index` of a family, built.
    static func world(_ family: String, index: Int = 0) throws -> (EpisodeSpec, World) {
        let scenario = scenario(family)
        let episode = ScenarioBuilder.episode(scenario, index: index)
        return (episode, try ScenarioBuilder.build(scenario, episode: episode))
    }

    /// A straight road with the ego and the given other actors.
    static func world(lanes: Int = 3, friction: Double = 0.8, egoLane: Int = 1, egoSpeed: Double = 25,
                      others: [Actor] = [], segments: [RoadSegment]? = nil) -> World {
        let road = Road(laneCount: lanes, laneWidth: 3.75, segments: segments ?? [RoadSegment(length: 2_000, speedLimit: 30)])
        var actors = [Actor(kind: .ego, s: 100, d: road.laneCentre(egoLane), speed: egoSpeed, length: Actor.carLength,
                            width: Actor.carWidth, lane: egoLane, targetSpeed: egoSpeed)]
        actors += others
        return World(road: road, environment: Environment(friction: friction), actors: actors, sensorSeed: 1)
    }

    static func car(lane: Int, s: Double, speed: Double, kind: ActorKind = .car) -> Actor {
        Actor(kind: kind, s: s, d: (Double(lane) + 0.5) * 3.75, speed: speed, length: Actor.carLength,
              width: Actor.carWidth, lane: lane, targetSpeed: speed)
    }

    /// A pedestrian `ahead` metres in front of the ego (at s = 100, lane 1), 3.5 m to its right, walking towards its line at `lateralSpeed`.
    static func walker(ahead: Double, lateralSpeed: Double = 0) -> Actor {
        var walker = car(lane: 1, s: 100 + ahead, speed: 0, kind: .pedestrian)
        walker.length = Actor.pedestrianSize
        walker.width = Actor.pedestrianSize
        walker.d -= 3.5
        walker.lateralSpeed = lateralSpeed
        return walker
    }

    static func options(_ scenario: Scenario, episode: EpisodeSpec) -> EpisodeOptions {
        var options = EpisodeOptions(duration: scenario.duration, decisionSteps: 3)
        options.episode = episode
        return options
    }
}
