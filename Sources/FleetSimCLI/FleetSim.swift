import ArgumentParser
import DrivingSimulator
import FleetEvaluation
import Foundation
import PolicyNetwork

/// `fleet-sim`: the driving simulator from the command line.
@main
struct FleetSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-sim",
        abstract: "Fleet Learning simulator: a whole fleet learning (the default), and scenarios, captures, variations and evaluation.",
        subcommands: [SimulateFleet.self, ListScenarios.self, ShowScenario.self, RunEpisode.self, ReplayCapture.self,
                      GenerateVariations.self, Evaluate.self, GenerateGold.self],
        defaultSubcommand: SimulateFleet.self)
}

/// Options shared by every subcommand: where `Simulator/` is.
struct ContentOptions: ParsableArguments {
    @Option(name: .long, help: "The Simulator/ directory (default: found from the working directory).")
    var content: String?

    func locate() throws -> SimulatorContent {
        if let content { return SimulatorContent(root: URL(fileURLWithPath: content)) }
        guard let found = SimulatorContent.locate() else {
            throw ValidationError("cannot find Simulator/ from the working directory; pass --content")
        }
        return found
    }

    func library() throws -> ScenarioLibrary {
        try ScenarioLibrary.load(directory: try locate().scenarios)
    }
}

func makeDriver(_ name: String) throws -> any Driver {
    guard let driver = DriverCatalog.make(name) else {
        throw ValidationError("unknown driver '\(name)' (expected one of \(DriverCatalog.names.joined(separator: ", ")))")
    }
    return driver
}

struct ListScenarios: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the scenario families.")
    @OptionGroup var content: ContentOptions

    func run() throws {
        for scenario in try content.library().scenarios {
            print("\(scenario.family.padding(toLength: 18, withPad: " ", startingAt: 0)) \(scenario.file.padding(toLength: 24, withPad: " ", startingAt: 0)) \(scenario.name)")
        }
    }
}

struct ShowScenario: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a scenario family as parsed.")
    @OptionGroup var content: ContentOptions
    @Argument(help: "Family name.") var family: String

    func run() throws {
        guard let scenario = try content.library().scenario(family: family) else {
            throw ValidationError("no family '\(family)'")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(scenario), as: UTF8.self))
    }
}

struct RunEpisode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Drive one episode of a family and write its captures.")
    @OptionGroup var content: ContentOptions
    @Argument(help: "Family name.") var family: String
    @Option(help: "Episode index (seed mix(scenario seed, index)).") var index = 0
    @Option(help: "Driver: teacher, baseline, idle.") var driver = "baseline"
    @Option(help: "Drive this policy checkpoint (safetensors) instead of a named driver.") var model: String?
    @Flag(help: "Filter the driver through Simulator/rules/guardrail.json.") var guardrail = false
    @Flag(help: "Run the teacher in shadow mode (disagreement trigger).") var shadow = false
    @Option(help: "Directory to write captures into.") var captures: String?
    @Flag(help: "Print every decision: time, the driver's action, the teacher's label for the state, the executed action, the rule that changed it, the observed lead TTC and the true gap; and the observed objects wherever a rule fired or the driver and the teacher disagree.")
    var trace = false

    func run() async throws {
        let located = try content.locate()
        let library = try content.library()
        guard let scenario = library.scenario(family: family) else { throw ValidationError("no family '\(family)'") }
        let episode = ScenarioBuilder.episode(scenario, index: index)
        let world = try ScenarioBuilder.build(scenario, episode: episode)
        var options = EpisodeOptions(duration: scenario.duration, decisionSteps: Int((scenario.decisionPeriod * 15).rounded()))
        options.triggers = TriggerConfiguration()
        options.episode = episode
        if guardrail { options.guardrail = try Guardrail.load(contentsOf: located.guardrailRules) }
        if shadow { options.shadowTeacher = TeacherDriver() }
        var chosen: any Driver
        if let model {
            do { chosen = try PolicyDriver(policy: try BasePolicy.load(at: model), name: URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent) }
            catch { throw ValidationError("\(model): \(error)") }
        } else {
            chosen = try makeDriver(driver)
        }
        if trace {
            let traced = TracingDriver(base: chosen, guardrail: options.guardrail)
            options.guardrail = nil
            chosen = traced
            traced.printHeader()
        }
        let result = EpisodeRunner.run(world, driver: &chosen, options: options)
        print("episode \(episode.id) seed \(episode.seed) driver \(chosen.name)")
        print("  crashed: \(result.crashed) (collision \(result.collided)\(result.collisionWith.map { " with \($0)" } ?? ""), off road \(result.offRoad))")
        print("  time \(result.time) s, mean speed \(result.meanSpeed) m/s, min TTC \(result.minTimeToCollision) s, interventions \(result.interventions)")
        for trigger in result.triggers {
            print("  trigger \(trigger.kind.rawValue) at t=\(trigger.time) value \(trigger.value) \(trigger.detail)")
        }
        if let directory = captures {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for capture in result.captures {
                let path = URL(fileURLWithPath: directory).appendingPathComponent("\(episode.id)-\(capture.trigger.kind.rawValue).json")
                try capture.encoded().write(to: path)
                print("  wrote \(path.path)")
            }
        }
    }
}

struct ReplayCapture: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Replay a capture and check it reproduces its trigger.")
    @Argument(help: "Capture file.") var capture: String
    @Option(help: "Driver (default: the one recorded).") var driver: String?

    func run() throws {
        let loaded = try Capture.load(contentsOf: URL(fileURLWithPath: capture))
        let name = driver ?? (loaded.driver == "idm-mobil" ? "baseline" : loaded.driver)
        var chosen = try makeDriver(name)
        let result = loaded.replay(driver: &chosen)
        let again = result.triggers.first { $0.kind == loaded.trigger.kind }
        print("captured: \(loaded.trigger.kind.rawValue) at t=\(loaded.trigger.time) (step \(loaded.trigger.step))")
        if let again {
            print("replayed: \(again.kind.rawValue) at t=\(again.time) (step \(again.step)) — \(again.step == loaded.trigger.step ? "same" : "different")")
        } else {
            print("replayed: the trigger did not fire")
            throw ExitCode(1)
        }
    }
}

struct GenerateVariations: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "variations", abstract: "Generate (and optionally roll out) variations of a capture.")
    @Argument(help: "Capture file.") var capture: String
    @Option(help: "Number of variants.") var count = 1000
    @Option(help: "Seconds to roll each variant out with the driver (0: only generate).") var rollout = 0.0
    @Option(help: "Driver for rollouts.") var driver = "baseline"
    @Option(help: "Directory to write the variant worlds into (JSON).") var output: String?

    func run() throws {
        let loaded = try Capture.load(contentsOf: URL(fileURLWithPath: capture))
        let sampler = VariationSampler(capture: loaded)
        let clock = ContinuousClock()
        var crashes = 0
        let started = clock.now
        for index in 0..<count {
            let world = sampler.variant(index)
            if let output {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try encoder.encode(world).write(to: URL(fileURLWithPath: output).appendingPathComponent("variant-\(index).json"))
            }
            if rollout > 0 {
                var chosen = try makeDriver(driver)
                let result = EpisodeRunner.run(world, driver: &chosen,
                                               options: EpisodeOptions(duration: world.time + rollout, decisionSteps: loaded.decisionSteps))
                if result.crashed { crashes += 1 }
            }
        }
        let elapsed = clock.now - started
        print("\(count) variants of \(capture) in \(elapsed)" + (rollout > 0 ? ", rolled out \(rollout) s each: \(crashes) crashed" : ""))
    }
}

struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "Evaluate a driver on a suite directory (default: the gold suite).")
    @OptionGroup var content: ContentOptions
    @Option(help: "Driver: teacher, baseline, idle.") var driver = "teacher"
    @Option(help: "Drive this policy checkpoint (safetensors) instead of a named driver.") var model: String?
    @Option(help: "Suite directory (default: Simulator/gold).") var suite: String?
    @Option(help: "Only these families (comma separated).") var families: String?
    @Flag(help: "Filter the driver through the guardrail rules.") var guardrail = false
    @Option(help: "Write the report as JSON to this file.") var json: String?
    @Option(help: "Concurrent episodes.") var jobs = 2
    @Option(help: "Instead of a suite file, sample this many fresh episodes per family (held-out variations).")
    var perFamily: Int?
    @Option(help: "Difficulty knob for sampled episodes (0 easy … 1 hard; default: each scenario's own).")
    var difficulty: Double?
    @Option(help: "Base seed for sampled episodes (episode i of a family uses mix(mix(scenario seed, base), i)).")
    var seed: UInt64 = 1

    func run() async throws {
        let located = try content.locate()
        let library = try content.library()
        var episodes: [EpisodeSpec]
        if let perFamily {
            episodes = library.scenarios.flatMap { scenario in
                (0..<perFamily).map {
                    ScenarioBuilder.episode(scenario, index: $0, baseSeed: DrivingSimulator.SeededGenerator.mix(scenario.seed, seed),
                                            difficulty: difficulty)
                }
            }
        } else {
            episodes = try GoldSuite.loadDirectory(suite.map { URL(fileURLWithPath: $0) } ?? located.gold, library: library)
        }
        if let families {
            let wanted = Set(families.split(separator: ",").map(String.init))
            episodes = episodes.filter { wanted.contains($0.family) }
        }
        let rules = guardrail ? try Guardrail.load(contentsOf: located.guardrailRules) : nil
        let report: EvaluationReport
        if let model {
            let policy: MoEPolicy
            do { policy = try BasePolicy.load(at: model) } catch { throw ValidationError(error.message) }
            report = try await PolicyEvaluation.evaluate(
                policy, suite: GoldSuite(version: 0, description: "", episodes: episodes), library: library,
                name: URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent, guardrail: rules, concurrency: jobs)
        } else {
            let name = driver
            _ = try makeDriver(name)
            report = try await Evaluator.evaluate(episodes: episodes, library: library, driverName: name, guardrail: rules,
                                                  concurrency: jobs) { DriverCatalog.make(name)! }
        }
        print(report.table())
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
    }
}

struct GenerateGold: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gold", abstract: "Regenerate the gold suite file deterministically.")
    @OptionGroup var content: ContentOptions
    @Option(help: "Episodes per family.") var perFamily = 500
    @Option(help: "Suite version.") var version = 4

    func run() throws {
        let located = try content.locate()
        let suite = GoldSuite.generate(library: try content.library(), perFamily: perFamily, version: version)
        try suite.encoded().write(to: located.goldSuite)
        print("wrote \(suite.episodes.count) episodes to \(located.goldSuite.path)")
    }
}

/// A driver that prints each decision (for `fleet-sim run --trace`); applies the guardrail itself so it can show what it changed.
struct TracingDriver: Driver {
    var base: any Driver
    let guardrail: Guardrail?
    var name: String { base.name + (guardrail == nil ? "" : "+guardrail") }

    func printHeader() {
        print("     t  driver      teacher     executed    rule              obs-TTC  true-gap  speed  lane")
    }

    mutating func decide(_ observation: Observation, context: DriverContext) -> MetaAction {
        let proposed = base.decide(observation, context: context)
        let verdict = guardrail?.filter(proposed, observation: observation, laneWidth: context.world.road.laneWidth)
        let executed = verdict?.action ?? proposed
        let world = context.world
        let ego = world.actors[0]
        // The label DAgger would give this state.
        let label = TeacherDriver(rules: guardrail).decide(world: world, decisionSteps: context.decisionSteps, observation: observation)
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        func number(_ value: Double) -> String { value.isFinite ? String(format: "%.2f", value) : "inf" }
        print(String(format: "%6.2f", world.time) + "  " + pad("\(proposed)", 11) + " " + pad("\(label)", 11) + " " + pad("\(executed)", 11) + " "
              + pad(verdict?.rule ?? "-", 17) + " " + pad(number(observation.leadTimeToCollision), 8) + " "
              + pad(number(world.egoHeadway(range: 150)), 9) + " " + pad(number(ego.speed), 6) + " " + "\(ego.lane)")
        if verdict?.rule != nil || label != proposed {
            for k in 0..<Observation.vehicleSlots {
                guard let other = observation.vehicle(k) else { continue }
                print("        seen: x \(number(other.x)) y \(number(other.y)) vx \(number(other.vx)) ax \(number(other.acceleration)) "
                      + "kind \(other.kind) size \(number(other.length))×\(number(other.width)) age \(number(other.age))")
            }
        }
        return executed
    }
}
