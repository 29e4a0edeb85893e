/// A number in a scenario file: a constant, or a reference `"$name"` to a declared parameter.
///
/// Why references: the variation ranges live in one place (`parameters`) and
/// any numeric field can vary by naming one, so a family's whole variation
/// space is visible at the top of its file.
public enum ScenarioValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case constant(Double)
    case parameter(String)

    public var description: String {
        switch self {
        case .constant(let value): "\(value)"
        case .parameter(let name): "$\(name)"
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let number = try? c.decode(Double.self) {
            self = .constant(number)
        } else {
            let text = try c.decode(String.self)
            guard text.hasPrefix("$") else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a number or \"$parameter\"")
            }
            self = .parameter(String(text.dropFirst()))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .constant(let value): try c.encode(value)
        case .parameter(let name): try c.encode("$" + name)
        }
    }
}

/// A declared variation parameter.
///
/// Either a neutral range (`"range": [lo, hi]`, sampled uniformly) or an
/// oriented one (`"easy": a, "hard": b`) that the scenario's difficulty knob
/// skews: with difficulty δ ∈ [0, 1] the sample is `easy + (hard − easy)·u^e`,
/// `e = exp(2·(0.5 − δ))`, u uniform — δ = 0.5 is uniform over the range,
/// δ → 1 crowds the hard end, δ → 0 the easy end, and every value stays possible.
public struct ScenarioParameter: Sendable, Equatable, Codable {
    /// The value at the easy end (or the lower bound of a neutral range).
    public var easy: Double
    /// The value at the hard end (or the upper bound of a neutral range).
    public var hard: Double
    /// Whether difficulty skews the draw.
    public var oriented: Bool

    public init(easy: Double, hard: Double, oriented: Bool) {
        self.easy = easy
        self.hard = hard
        self.oriented = oriented
    }

    public var lowerBound: Double { min(easy, hard) }
    public var upperBound: Double { max(easy, hard) }
    /// The middle of the range (used when nothing is sampled).
    public var midpoint: Double { (easy + hard) / 2 }

    /// Draws a value.
    public func sample(using generator: inout SeededGenerator, difficulty: Double) -> Double {
        let u = generator.unit()
        guard oriented else { return easy + (hard - easy) * u }
        let exponent = _exp(2 * (0.5 - clamp(difficulty, 0, 1)))
        return easy + (hard - easy) * _pow(u, exponent)
    }
}
