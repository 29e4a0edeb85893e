import ArgumentParser
import DrivingSimulator
import Foundation

/// `swift run -c release simulator-benchmark`: our simulator side by side with highway-env.
///
/// Measures, on one core: vehicle updates per second and env steps per second
/// for highway-v0's setting (50 vehicles + ego, 4 lanes, 15 Hz simulation, one
/// decision per simulated second, IDLE), the same for 1,000 vehicles, and the
/// time to generate 1,000 variants of a capture and roll each out for 10 s.
/// Spawns the highway-env peer script and prints the ratios. Medians of
/// `--repeats` runs.
@main
struct SimulatorBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulator-benchmark")

    @Option(help: "Runs per measurement (the median is reported).") var repeats = 5
    @Option(help: "Seconds per highway-env run.") var peerSeconds = 10.0
    @Flag(help: "Skip the highway-env peer.") var noPeer = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Option(help: "Only step the 50-vehicle world this many times and exit (for allocation counting).") var stepsOnly: Int?

    func run() throws {
        if let stepsOnly {
            var world = try highwayWorld(vehicles: 50, length: 30_000)
            var observation = Observation()
            for k in 0..<stepsOnly {
                world.step()
                if k % 15 == 0 { world.observe(into: &observation) }
            }
            print(world.actors[0].s)
            return
        }
        var results: [String: Double] = [:]
        let small = try highwayWorld(vehicles: 50, length: 30_000)
        let (simRate, stepRate, envUpdates) = try measure(world: small, repeats: repeats, envSteps: 3_000)
        results["ours_vehicle_updates_per_second_sim"] = simRate
        results["ours_env_steps_per_second"] = stepRate
        results["ours_vehicle_updates_per_second_env"] = envUpdates
        print("ours, 50 vehicles, 4 lanes, 15 Hz: \(fmt(simRate)) vehicle updates/s (simulation only), "
              + "\(fmt(stepRate)) env steps/s (\(fmt(envUpdates)) vehicle updates/s)")

        let large = try highwayWorld(vehicles: 1_000, length: 60_000)
        let (largeSim, largeSteps, _) = try measure(world: large, repeats: repeats, envSteps: 300)
        results["ours_1000_vehicle_updates_per_second_sim"] = largeSim
        results["ours_1000_env_steps_per_second"] = largeSteps
        print("ours, 1,000 vehicles, 4 lanes: \(fmt(largeSim)) vehicle updates/s, \(fmt(largeSteps)) env steps/s "
              + "(\(fmt(largeSim / Double(large.actors.count) )) simulation steps/s)")

        let (generate, rollout, teacher) = try variantsBenchmark(repeats: repeats)
        results["variants_1000_teacher_rollout_10s_seconds"] = teacher
        results["variants_1000_generate_seconds"] = generate
        results["variants_1000_generate_and_rollout_10s_seconds"] = rollout
        print("1,000 variants of a capture: generated in \(fmt(generate * 1000)) ms; generated + rolled out 10 s each "
              + "(baseline driver, observation every 0.2 s) in \(fmt(rollout)) s; driven by the teacher "
              + "(18 look-ahead rollouts per decision) in \(fmt(teacher)) s")

        if !noPeer {
            if let peer = runPeer() {
                if let error = peer["error"] as? String {
                    print("highway-env peer skipped: \(error)")
                } else if let theirSteps = peer["env_steps_per_second"] as? Double,
                          let theirUpdates = peer["vehicle_updates_per_second"] as? Double {
                    results["highway_env_env_steps_per_second"] = theirSteps
                    results["highway_env_vehicle_updates_per_second"] = theirUpdates
                    results["ratio_vehicle_updates_env"] = results["ours_vehicle_updates_per_second_env"]! / theirUpdates
                    results["ratio_vehicle_updates_sim"] = simRate / theirUpdates
                    results["ratio_env_steps"] = stepRate / theirSteps
                    print("\(peer["peer"] as? String ?? "highway-env"): \(fmt(theirUpdates)) vehicle updates/s, \(fmt(theirSteps)) env steps/s")
                    print("ratio (ours / highway-env): vehicle updates \(fmt(results["ratio_vehicle_updates_env"]!))× "
                          + "(simulation only \(fmt(results["ratio_vehicle_updates_sim"]!))×), env steps \(fmt(results["ratio_env_steps"]!))×")
                }
            } else {
                print("highway-env peer skipped: python3 could not run the peer script")
            }
        }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }

    /// highway-v0's layout: `vehicles` others plus the ego on a long 4-lane road.
    func highwayWorld(vehicles: Int, length: Int) throws -> World {
        let spread = max(vehicles * 14, 600)
        let text = """
        {"schema": "fleet-scenario/1", "family": "benchmark", "seed": 7, "duration": 40,
         "road": {"lanes": 4, "segments": [{"length": \(length), "speedLimit": 30}]},
         "ego": {"lane": 1, "s": \(spread / 2 + 100), "speed": 25},
         "traffic": {"vehicles": \(vehicles), "from": -\(spread / 2), "to": \(spread / 2), "minSpeed": 21, "maxSpeed": 29}}
        """
        let scenario = try ScenarioParser.parse(Data(text.utf8), file: "benchmark.json")
        return try ScenarioBuilder.build(scenario, seed: 7, parameters: [:])
    }

    /// (vehicle updates/s of bare simulation steps, env steps/s with observation + decision every 15 steps,
    /// vehicle updates/s inside that env loop).
    func measure(world template: World, repeats: Int, envSteps: Int) throws -> (Double, Double, Double) {
        let clock = ContinuousClock()
        let vehicles = Double(template.actors.count)
        var simRates: [Double] = []
        var envRates: [Double] = []
        var envUpdateRates: [Double] = []
        for _ in 0..<repeats {
            var world = template
            let steps = envSteps * 15
            let start = clock.now
            for k in 0..<steps {
                world.step()
                // 40 s episodes like highway-v0, ended early by a crash as there.
                if k % 600 == 599 || world.isTerminal { world = template }
            }
            simRates.append(Double(steps) * vehicles / seconds(clock.now - start))
            var observation = Observation()
            let driver = ConstantDriver(.idle)
            world = template
            var decisions = 0
            var updates = 0
            let envStart = clock.now
            for _ in 0..<envSteps {
                world.observe(into: &observation)
                let action = driver.decide(observation, context: DriverContext(world: world, decisionSteps: 15))
                // Like highway-env, an env step always simulates its 15 steps; a crash ends the episode after it.
                world.apply(action)
                for _ in 0..<15 { world.step() }
                updates += 15 * world.actors.count
                decisions += 1
                if decisions == 40 || world.isTerminal {
                    world = template
                    decisions = 0
                }
            }
            let envSeconds = seconds(clock.now - envStart)
            envRates.append(Double(envSteps) / envSeconds)
            envUpdateRates.append(Double(updates) / envSeconds)
        }
        return (median(simRates), median(envRates), median(envUpdateRates))
    }

    /// (seconds to generate 1,000 variants, seconds to generate and roll each out 10 s with the
    /// baseline, the same driven by the teacher — measured once, it is the DAgger labelling cost).
    func variantsBenchmark(repeats: Int) throws -> (Double, Double, Double) {
        guard let content = SimulatorContent.locate() else { throw ValidationError("run from the repository (Simulator/ not found)") }
        let library = try ScenarioLibrary.load(directory: content.scenarios)
        guard let scenario = library.scenario(family: "cut-in") else { throw ValidationError("no cut-in scenario") }
        let episode = ScenarioBuilder.episode(scenario, index: 0)
        var options = EpisodeOptions(duration: scenario.duration, decisionSteps: 3)
        options.triggers = TriggerConfiguration()
        options.episode = episode
        var baseline = BaselineDriver()
        let result = EpisodeRunner.run(try ScenarioBuilder.build(scenario, episode: episode), driver: &baseline, options: options)
        guard let capture = result.captures.first(where: { $0.trigger.kind == .collision }) else {
            throw ValidationError("the baseline did not crash in cut-in-000; no collision capture to vary")
        }
        let sampler = VariationSampler(capture: capture)
        let clock = ContinuousClock()
        var generation: [Double] = []
        var rollouts: [Double] = []
        var checksum = 0.0
        var simulated = 0.0
        for _ in 0..<repeats {
            var start = clock.now
            for index in 0..<1_000 { checksum += sampler.variant(index).actors[0].speed }
            generation.append(seconds(clock.now - start))
            start = clock.now
            simulated = 0
            for index in 0..<1_000 {
                let world = sampler.variant(index)
                var driver = BaselineDriver()
                var options = EpisodeOptions(duration: world.time + 10, decisionSteps: 3)
                options.stopOnCrash = false
                let outcome = EpisodeRunner.run(world, driver: &driver, options: options)
                checksum += outcome.distance
                simulated += outcome.time
            }
            rollouts.append(seconds(clock.now - start))
        }
        precondition(checksum.isFinite && simulated > 9_999, "variants must each be rolled out for 10 s (got \(simulated) s in total)")
        let start = clock.now
        for index in 0..<1_000 {
            let world = sampler.variant(index)
            var driver = TeacherDriver()
            var options = EpisodeOptions(duration: world.time + 10, decisionSteps: 3)
            options.stopOnCrash = false
            checksum += EpisodeRunner.run(world, driver: &driver, options: options).distance
        }
        let teacher = seconds(clock.now - start)
        precondition(checksum.isFinite)
        return (median(generation), median(rollouts), teacher)
    }

    func runPeer() -> [String: Any]? {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("highway_env_peer.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, String(peerSeconds), String(min(repeats, 3))]
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func fmt(_ value: Double) -> String {
    if value >= 100 { return String(Int(value.rounded())) }
    return String(format: "%.2f", value)
}
