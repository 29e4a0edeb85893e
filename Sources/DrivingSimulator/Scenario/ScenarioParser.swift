public import Foundation

/// Reads and validates scenario files (schema `fleet-scenario/1`).
///
/// Strict on purpose: an unknown key, a wrong type, a value out of its range,
/// a reference to an undeclared parameter, or a lane that does not exist is
/// rejected with a `SimulationError` that names the file and the field path.
/// A parameter reference is checked by requiring the parameter's whole range
/// to lie inside the field's range, so every variant of a valid file is valid.
public enum ScenarioParser {
    /// Loads one scenario file.
    public static func load(contentsOf url: URL) throws -> Scenario {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SimulationError(code: .unreadableFile, message: "cannot read the file (\(error.localizedDescription))",
                                  file: url.lastPathComponent)
        }
        return try parse(data, file: url.lastPathComponent)
    }

    /// Parses scenario JSON; `file` is used in messages.
    public static func parse(_ data: Data, file: String) throws -> Scenario {
        let root = try readJSON(data, file: file)
        var reader = Reader(file: file)
        return try reader.scenario(root)
    }

    static func readJSON(_ data: Data, file: String) throws -> JSONField {
        do {
            let value = try JSONDecoder().decode(JSONValue.self, from: data)
            return JSONField(value: value, path: "", file: file)
        } catch {
            throw SimulationError(code: .malformedJSON, message: "not valid JSON (\(error))", file: file)
        }
    }

    struct Reader {
        let file: String
        var parameters: [String: ScenarioParameter] = [:]

        init(file: String) { self.file = file }

        mutating func scenario(_ root: JSONField) throws -> Scenario {
            let top = try root.object(allowed: ["schema", "family", "name", "description", "seed", "duration",
                                                "decisionPeriod", "difficulty", "parameters", "road", "ego",
                                                "traffic", "agents", "environment"])
            let schema = try top.string("schema")
            guard schema == Scenario.schema else {
                throw SimulationError(code: .unsupportedSchema,
                                      message: "schema '\(schema)' is not supported (expected '\(Scenario.schema)')",
                                      file: file, field: "schema")
            }
            if let declared = top.optional("parameters") {
                guard case .object(let fields) = declared.value else {
                    throw declared.error("expected an object, found \(declared.value.typeName)", code: .malformedJSON)
                }
                for name in fields.keys.sorted() {
                    let entry = JSONField(value: fields[name]!, path: "parameters.\(name)", file: file)
                    parameters[name] = try parameter(entry)
                }
            }
            let family = try top.string("family")
            guard !family.isEmpty else { throw try top.field("family").error("must not be empty") }
            let seed = try top.number("seed", in: 0...9_007_199_254_740_991)
            guard seed == seed.rounded() else { throw try top.field("seed").error("must be a whole number") }
            let road = try self.road(top.field("road"))
            let ego = try self.ego(top.field("ego"), road: road)
            let traffic = try top.optional("traffic").map { try self.traffic($0, road: road) }
            var agents: [AgentSpec] = []
            if let list = top.optional("agents") {
                for item in try list.array() { agents.append(try agent(item, road: road)) }
            }
            var ids = Set<String>()
            for (index, agent) in agents.enumerated() where !ids.insert(agent.id).inserted {
                throw SimulationError(code: .invalidValue, message: "duplicate agent id '\(agent.id)'",
                                      file: file, field: "agents[\(index)].id")
            }
            let environment = try self.environment(top.optional("environment"))
            return Scenario(
                file: file, family: family, name: try top.string("name", default: family),
                description: try top.string("description", default: ""), seed: UInt64(seed),
                duration: try top.number("duration", in: 1...600, default: 20),
                decisionPeriod: try top.number("decisionPeriod", in: 0.05...2, default: 0.2),
                difficulty: try top.number("difficulty", in: 0...1, default: 0.5),
                parameters: parameters, road: road, ego: ego, traffic: traffic, agents: agents,
                environment: environment)
        }

        typealias AgentSpec = Scenario.AgentSpec

        func parameter(_ field: JSONField) throws -> ScenarioParameter {
            let object = try field.object(allowed: ["range", "easy", "hard"])
            if let range = object.optional("range") {
                guard !object.has("easy") && !object.has("hard") else {
                    throw field.error("give either 'range' or 'easy' and 'hard', not both")
                }
                let bounds = try range.array()
                guard bounds.count == 2 else { throw range.error("expected [lower, upper]") }
                let lower = try bounds[0].number(), upper = try bounds[1].number()
                guard lower <= upper else { throw range.error("lower bound \(lower) exceeds upper bound \(upper)") }
                return ScenarioParameter(easy: lower, hard: upper, oriented: false)
            }
            let easy = try object.field("easy").number()
            let hard = try object.field("hard").number()
            return ScenarioParameter(easy: easy, hard: hard, oriented: true)
        }

        /// A number or a parameter reference whose every value lies in `range`.
        func value(_ object: JSONObject, _ key: String, in range: ClosedRange<Double>,
                   default fallback: Double? = nil) throws -> ScenarioValue {
            guard let field = object.optional(key) else {
                if let fallback { return .constant(fallback) }
                _ = try object.field(key)
                return .constant(0)
            }
            return try value(field, in: range)
        }

        func value(_ field: JSONField, in range: ClosedRange<Double>) throws -> ScenarioValue {
            switch field.value {
            case .number(let number):
                guard range.contains(number) else {
                    throw field.error("\(number) is outside \(range.lowerBound)…\(range.upperBound)")
                }
                return .constant(number)
            case .string(let text) where text.hasPrefix("$"):
                let name = String(text.dropFirst())
                guard let parameter = parameters[name] else {
                    throw field.error("refers to undeclared parameter '\(name)'", code: .unknownReference)
                }
                guard range.contains(parameter.lowerBound) && range.contains(parameter.upperBound) else {
                    throw field.error("parameter '\(name)' spans \(parameter.lowerBound)…\(parameter.upperBound), "
                                      + "outside \(range.lowerBound)…\(range.upperBound)")
                }
                return .parameter(name)
            default:
                throw field.error("expected a number or \"$parameter\", found \(field.value.typeName)",
                                  code: .malformedJSON)
            }
        }

        func road(_ field: JSONField) throws -> Scenario.RoadSpec {
            let object = try field.object(allowed: ["lanes", "laneWidth", "segments", "closures"])
            let lanes = try object.integer("lanes", in: 1...8)
            var segments: [Scenario.SegmentSpec] = []
            let segmentFields = try object.field("segments").array()
            guard !segmentFields.isEmpty else { throw try object.field("segments").error("needs at least one segment") }
            for item in segmentFields {
                let segment = try item.object(allowed: ["length", "curvature", "speedLimit"])
                segments.append(Scenario.SegmentSpec(
                    length: try value(segment, "length", in: 1...100_000),
                    curvature: try value(segment, "curvature", in: -0.05...0.05, default: 0),
                    speedLimit: try value(segment, "speedLimit", in: 1...70)))
            }
            var closures: [Scenario.ClosureSpec] = []
            if let list = object.optional("closures") {
                for item in try list.array() {
                    let closure = try item.object(allowed: ["lane", "from", "to", "cones"])
                    closures.append(Scenario.ClosureSpec(
                        lane: try closure.integer("lane", in: 0...(lanes - 1)),
                        from: try value(closure, "from", in: 0...100_000),
                        to: try value(closure, "to", in: 0...1_000_000),
                        cones: try closure.bool("cones", default: false)))
                    if case .constant(let from) = closures.last!.from, case .constant(let to) = closures.last!.to, to <= from {
                        throw try closure.field("to").error("must be beyond 'from' (\(from))")
                    }
                }
            }
            return Scenario.RoadSpec(lanes: lanes, laneWidth: try object.number("laneWidth", in: 2.5...5, default: 3.75),
                                     segments: segments, closures: closures)
        }

        func ego(_ field: JSONField, road: Scenario.RoadSpec) throws -> Scenario.EgoSpec {
            let object = try field.object(allowed: ["lane", "s", "speed"])
            return Scenario.EgoSpec(lane: try object.integer("lane", in: 0...(road.lanes - 1)),
                                    s: try value(object, "s", in: 0...100_000, default: 50),
                                    speed: try value(object, "speed", in: 0...60))
        }

        func traffic(_ field: JSONField, road: Scenario.RoadSpec) throws -> Scenario.TrafficSpec {
            let object = try field.object(allowed: ["vehicles", "lanes", "from", "to", "minSpeed", "maxSpeed",
                                                    "truckShare", "behaviourSpread"])
            var lanes: [Int] = []
            if let list = object.optional("lanes") {
                for item in try list.array() {
                    let number = try item.number()
                    guard number == number.rounded(), number >= 0, Int(number) < road.lanes else {
                        throw item.error("lane \(number) does not exist (the road has \(road.lanes))")
                    }
                    lanes.append(Int(number))
                }
            } else {
                lanes = Array(0..<road.lanes)
            }
            return Scenario.TrafficSpec(
                vehicles: try value(object, "vehicles", in: 0...10_000),
                lanes: lanes,
                from: try value(object, "from", in: -10_000...10_000, default: -100),
                to: try value(object, "to", in: -10_000...100_000, default: 300),
                minSpeed: try value(object, "minSpeed", in: 0...60, default: 20),
                maxSpeed: try value(object, "maxSpeed", in: 0...60, default: 28),
                truckShare: try value(object, "truckShare", in: 0...1, default: 0.1),
                behaviourSpread: try value(object, "behaviourSpread", in: 0...0.5, default: 0.2))
        }

        func agent(_ field: JSONField, road: Scenario.RoadSpec) throws -> AgentSpec {
            let object = try field.object(allowed: ["id", "kind", "lane", "ahead", "offset", "speed", "targetSpeed",
                                                    "changesLanes", "attentive", "actions"])
            let kindName = try object.string("kind")
            let kinds: [String: ActorKind] = ["car": .car, "truck": .truck, "stalled": .stalled, "cone": .cone,
                                              "pedestrian": .pedestrian]
            guard let kind = kinds[kindName] else {
                throw try object.field("kind").error("unknown kind '\(kindName)' (expected car, truck, stalled, cone or pedestrian)")
            }
            let laneRange = kind == .pedestrian ? -1...road.lanes : 0...(road.lanes - 1)
            let lane = try object.integer("lane", in: laneRange)
            var actions: [Scenario.ActionSpec] = []
            if let list = object.optional("actions") {
                for item in try list.array() { actions.append(try action(item, road: road)) }
            }
            let id = try object.string("id")
            guard !id.isEmpty else { throw try object.field("id").error("must not be empty") }
            return AgentSpec(
                id: id, kind: kind, lane: lane,
                ahead: try value(object, "ahead", in: -5_000...5_000),
                offset: try value(object, "offset", in: -5...5, default: 0),
                speed: try value(object, "speed", in: 0...60, default: 0),
                targetSpeed: try object.optional("targetSpeed").map { try value($0, in: 0...60) },
                changesLanes: try object.bool("changesLanes", default: false),
                attentive: try object.bool("attentive", default: true),
                actions: actions)
        }

        func action(_ field: JSONField, road: Scenario.RoadSpec) throws -> Scenario.ActionSpec {
            let object = try field.object(allowed: ["type", "when", "lane", "rate", "deceleration", "speed", "width",
                                                    "direction"])
            let typeName = try object.string("type")
            guard let kind = Scenario.ActionSpec.Kind(rawValue: typeName) else {
                let known = Scenario.ActionSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                throw try object.field("type").error("unknown action '\(typeName)' (expected one of \(known))")
            }
            let when = try object.field("when").object(allowed: ["time", "distance", "ttc"])
            let triggers: [(String, Scenario.ActionSpec.Trigger, ClosedRange<Double>)] = [
                ("time", .time, 0...600), ("distance", .distance, -1_000...5_000), ("ttc", .ttc, 0...60)]
            let present = triggers.filter { when.has($0.0) }
            guard present.count == 1 else {
                throw try object.field("when").error("give exactly one of time, distance, ttc")
            }
            var spec = Scenario.ActionSpec(kind: kind, trigger: present[0].1,
                                           triggerValue: try value(when, present[0].0, in: present[0].2))
            switch kind {
            case .cutIn, .cutOut, .laneChange:
                spec.lane = try object.integer("lane", in: 0...(road.lanes - 1))
                spec.rate = try value(object, "rate", in: 0.2...6, default: 1.5)
            case .brake:
                spec.deceleration = try value(object, "deceleration", in: 0.5...12)
                spec.speed = try value(object, "speed", in: 0...60, default: 0)
            case .stop:
                spec.deceleration = try value(object, "deceleration", in: 0.5...12, default: 4)
            case .openDoor:
                spec.width = try value(object, "width", in: 0.2...1.5, default: 0.9)
            case .cross:
                spec.rate = try value(object, "rate", in: 0.3...4, default: 1.4)
                spec.direction = try object.number("direction", in: -1...1, default: 1)
            case .setSpeed:
                spec.speed = try value(object, "speed", in: 0...60)
            }
            return spec
        }

        func environment(_ field: JSONField?) throws -> Scenario.EnvironmentSpec {
            let object = try field?.object(allowed: ["friction", "visibility", "sensorNoise", "dropout", "latency"])
                ?? JSONObject(fields: [:], path: "environment", file: file)
            return Scenario.EnvironmentSpec(
                friction: try value(object, "friction", in: 0.05...1.2, default: 0.8),
                visibility: try value(object, "visibility", in: 5...1_000, default: 200),
                sensorNoise: try value(object, "sensorNoise", in: 0...5, default: 0),
                dropout: try value(object, "dropout", in: 0...0.95, default: 0),
                latency: try value(object, "latency", in: 0...2, default: 0))
        }
    }
}
