/// The Intelligent Driver Model (Treiber, Hennecke & Helbing 2000).
///
/// Why IDM: it is collision-free in the continuum limit, has few parameters
/// with physical meaning, and is what highway-env's traffic uses, so our
/// traffic behaves like the reference users know.
///
///     a_IDM = a · [1 − (v / v0)^δ − (s*(v, Δv) / s)²]
///     s*    = s0 + v·T + v·Δv / (2·√(a·b))
///
/// with `s` the gap to the leader (centre to centre, like highway-env) and
/// `Δv = v − v_leader` the closing speed.
public enum IntelligentDriverModel {
    /// The free-road term plus the interaction term; `gap = .infinity` means no leader.
    @inline(__always)
    public static func acceleration(speed v: Double, desiredSpeed v0: Double, gap: Double,
                                    closingSpeed dv: Double, behaviour p: DriverBehaviour) -> Double {
        let ratio = v0 > 0.1 ? max(v, 0) / v0 : 1
        // δ = 4 is the common case; avoid pow for it.
        let freeTerm = p.exponent == 4 ? (ratio * ratio) * (ratio * ratio) : _pow(ratio, p.exponent)
        var a = p.maxAcceleration * (1 - freeTerm)
        if gap.isFinite {
            let desired = desiredGap(speed: v, closingSpeed: dv, behaviour: p)
            let g = max(gap, 0.1)
            a -= p.maxAcceleration * (desired / g) * (desired / g)
        }
        return a
    }

    /// s* = s0 + v·T + v·Δv / (2√(ab)), never below s0.
    @inline(__always)
    public static func desiredGap(speed v: Double, closingSpeed dv: Double, behaviour p: DriverBehaviour) -> Double {
        let ab = p.maxAcceleration * p.comfortableDeceleration
        return p.minimumGap + max(0, v * p.timeHeadway + v * dv / (2 * ab.squareRoot()))
    }
}
