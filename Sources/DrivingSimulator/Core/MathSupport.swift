#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Thin wrappers so the numeric code reads like the formulas and does not
// depend on Foundation for elementary functions.

@inline(__always) func _log(_ x: Double) -> Double { log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func _tan(_ x: Double) -> Double { tan(x) }
@inline(__always) func _atan(_ x: Double) -> Double { atan(x) }
@inline(__always) func _atan2(_ y: Double, _ x: Double) -> Double { atan2(y, x) }
@inline(__always) func _asin(_ x: Double) -> Double { asin(x) }
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@inline(__always) func _exp(_ x: Double) -> Double { exp(x) }

/// Clamps `value` into `[lower, upper]`.
@inline(__always) func clamp(_ value: Double, _ lower: Double, _ upper: Double) -> Double {
    min(max(value, lower), upper)
}

/// Standard gravity in m/s², used for the friction limit μ·g.
let standardGravity = 9.81
