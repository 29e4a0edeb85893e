/// The ego's kinematic bicycle model in road coordinates, bounded by the friction circle.
///
/// With the centre of mass midway between the axles (`l_r = L/2`), slip angle
/// `β = atan(½·tan δ)`, and speed `v`:
///
///     ω   = v · sin β / l_r                (yaw rate over ground)
///     a_y = v · ω                          (lateral acceleration)
///     ṡ   = v · cos(ψ + β) / (1 − κ·d)     (ψ: heading relative to the road)
///     ḋ   = v · sin(ψ + β)
///     ψ̇   = ω − κ · ṡ
///     v̇   = a_x
///
/// The tyres transmit at most μ·g in total. Lateral demand is served first
/// (|a_y| ≤ μ·g, so a car too fast for an icy bend understeers and leaves
/// it) and braking or throttle get what remains, `|a_x| ≤ √((μg)² − a_y²)`.
public enum BicycleModel {
    /// Advances `ego` by `dt` under `acceleration` and `steering` on a road of curvature `κ` and grip `μg`.
    @inline(__always)
    public static func advance(_ ego: inout Actor, acceleration: Double, steering: Double,
                               curvature: Double, grip: Double, dt: Double) {
        let v = max(ego.speed, 0)
        let halfWheelbase = ego.length / 2
        let beta = _atan(0.5 * _tan(steering))
        var yawRate = v * _sin(beta) / halfWheelbase
        // Friction circle: lateral first.
        if v > 0.1 {
            let maxYaw = grip / v
            yawRate = clamp(yawRate, -maxYaw, maxYaw)
        }
        let lateral = v * yawRate
        let remaining = max(grip * grip - lateral * lateral, 0).squareRoot()
        let ax = clamp(acceleration, -remaining, remaining)
        let direction = ego.heading + beta
        let sDot = v * _cos(direction) / max(1 - curvature * ego.d, 0.1)
        let dDot = v * _sin(direction)
        ego.s += sDot * dt
        ego.d += dDot * dt
        ego.heading += (yawRate - curvature * sDot) * dt
        ego.speed = max(v + ax * dt, 0)
        ego.acceleration = ego.speed == 0 && ax < 0 ? 0 : ax
        ego.lateralSpeed = dDot
    }
}
