public import Foundation

extension Guardrail {
    /// The schema of rule files in `Simulator/rules/`.
    public static let schema = "fleet-rules/1"

    /// Loads rules from a JSON file (`{"schema": "fleet-rules/1", "version": n, "rules": [{"id", "kind", "threshold"}]}`).
    public static func load(contentsOf url: URL) throws -> Guardrail {
        let file = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SimulationError(code: .unreadableFile, message: "cannot read the rules (\(error.localizedDescription))", file: file)
        }
        return try parse(data, file: file)
    }

    /// Parses rule JSON; `file` names the source in messages.
    public static func parse(_ data: Data, file: String) throws -> Guardrail {
        let root = try ScenarioParser.readJSON(data, file: file)
        let top = try root.object(allowed: ["schema", "version", "description", "rules"])
        let schema = try top.string("schema")
        guard schema == Guardrail.schema else {
            throw SimulationError(code: .unsupportedSchema, message: "schema '\(schema)' is not supported (expected '\(Guardrail.schema)')",
                                  file: file, field: "schema")
        }
        _ = try top.integer("version", in: 1...1_000_000)
        var rules: [GuardrailRule] = []
        var ids = Set<String>()
        for item in try top.field("rules").array() {
            let object = try item.object(allowed: ["id", "kind", "threshold", "description"])
            let id = try object.string("id")
            guard ids.insert(id).inserted else { throw try object.field("id").error("duplicate rule id '\(id)'") }
            let kindName = try object.string("kind")
            guard let kind = GuardrailRule.Kind(rawValue: kindName) else {
                let known = GuardrailRule.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                throw try object.field("kind").error("unknown rule kind '\(kindName)' (expected one of \(known))")
            }
            let range: ClosedRange<Double> = switch kind {
            case .timeToCollisionBrake: 0.1...10
            case .occupiedGap: 0...100
            case .speedLimit: 0...1
            }
            rules.append(GuardrailRule(id: id, kind: kind, threshold: try object.number("threshold", in: range)))
        }
        return Guardrail(rules: rules)
    }
}
