/// The ego's low-level controllers: they turn a meta-action into acceleration and steering.
///
/// Modelled on highway-env's `ControlledVehicle`: a proportional speed
/// controller `a = K_a (v_target − v)` with `τ_a = 0.6 s`, and a cascaded
/// steering controller — lateral offset → lateral speed (`τ_lat = 0.6 s`) →
/// heading reference → yaw rate (`τ_ψ = 0.2 s`) → steering angle through the
/// bicycle model's slip relation. On a curve the yaw rate the road needs,
/// `v·κ`, is fed forward, so lane keeping holds on bends until the friction
/// circle says no.
public struct EgoController: Sendable, Codable, Equatable {
    /// The lane being steered to.
    public var targetLane: Int
    /// The speed being tracked, m/s.
    public var targetSpeed: Double
    /// Whether the current decision is an emergency brake.
    public var braking: Bool

    public init(targetLane: Int, targetSpeed: Double) {
        self.targetLane = targetLane
        self.targetSpeed = targetSpeed
        self.braking = false
    }

    /// Change of target speed for FASTER / SLOWER, m/s.
    public static let speedStep = 4.0
    /// Highest target speed, m/s.
    public static let maxSpeed = 40.0
    static let speedGain = 1 / 0.6
    static let lateralGain = 1 / 0.6
    static let headingGain = 1 / 0.2
    static let maxSteering = Double.pi / 3
    /// Throttle limit of the ego, m/s² (the brakes are limited by friction only).
    static let maxThrottle = 4.0
    /// Emergency braking request, m/s² (clipped to μ·g by the tyres).
    static let emergencyBraking = 9.0

    /// Applies a decision. Lane changes to a lane that does not exist are ignored.
    public mutating func apply(_ action: MetaAction, currentSpeed: Double, currentLane: Int, laneCount: Int) {
        braking = false
        switch action {
        case .idle:
            break
        case .faster:
            targetSpeed = min(max(targetSpeed, currentSpeed) + EgoController.speedStep, EgoController.maxSpeed)
        case .slower:
            targetSpeed = max(min(targetSpeed, currentSpeed) - EgoController.speedStep, 0)
        case .brake:
            braking = true
        case .laneLeft:
            let base = targetLane == currentLane || currentLane < 0 ? targetLane : currentLane
            targetLane = min(base + 1, laneCount - 1)
        case .laneRight:
            let base = targetLane == currentLane || currentLane < 0 ? targetLane : currentLane
            targetLane = max(base - 1, 0)
        }
    }

    /// The longitudinal command, m/s².
    @inline(__always)
    func accelerationCommand(speed: Double) -> Double {
        if braking { return -EgoController.emergencyBraking }
        return clamp(EgoController.speedGain * (targetSpeed - speed), -EgoController.emergencyBraking,
                     EgoController.maxThrottle)
    }

    /// The steering command (front wheel angle, rad) to track the target lane centre.
    @inline(__always)
    func steeringCommand(ego: Actor, laneCentre: Double, curvature: Double, wheelbase: Double) -> Double {
        let v = max(ego.speed, 1)
        let lateralError = ego.d - laneCentre
        let lateralSpeedCommand = -EgoController.lateralGain * lateralError
        let headingReference = clamp(_asin(clamp(lateralSpeedCommand / v, -1, 1)), -Double.pi / 4, Double.pi / 4)
        // Yaw rate relative to the ground: heading feedback plus what the curve needs.
        let yawRate = EgoController.headingGain * (headingReference - ego.heading) + v * curvature
        // Kinematic bicycle (rear-axle reference at lr = L/2): ω = v·sinβ/lr, tanδ = 2·tanβ.
        let slip = _asin(clamp(yawRate * (wheelbase / 2) / v, -1, 1))
        return clamp(_atan(2 * _tan(slip)), -EgoController.maxSteering, EgoController.maxSteering)
    }
}
