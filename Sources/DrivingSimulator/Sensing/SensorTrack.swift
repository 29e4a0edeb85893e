/// What the ego's tracker remembers of one object: its last detection, in road coordinates.
///
/// The observation's rows come from these tracks (see ``Observation``): a
/// detection refreshes the track; while detections drop out the track is
/// predicted forward at constant acceleration, never reversing, for up to
/// ``Observation/maximumTrackAge`` seconds.
struct SensorTrack: Codable, Sendable, Equatable {
    /// World time of the last detection, s.
    var time: Double
    /// Position along and across the road, m (noisy, as measured).
    var s: Double
    var d: Double
    /// Speed along the road and across it, m/s.
    var speed: Double
    var lateralSpeed: Double
    var heading: Double
    /// Acceleration along the road, m/s².
    var acceleration: Double
    var length: Double
    var width: Double
    /// The observation's `kind` code.
    var kind: Float

    /// The track predicted `age` seconds after its detection: position and speed along the road.
    func predicted(after age: Double) -> (s: Double, d: Double, speed: Double) {
        let age = max(age, 0)
        var t = age
        var a = acceleration
        if a < 0 {
            // Braking: it stops and stays stopped.
            t = speed > 0 ? min(age, speed / -a) : 0
            if speed <= 0 { a = 0 }
        }
        return (s + speed * t + 0.5 * a * t * t, d + lateralSpeed * age, max(speed + a * t, 0))
    }
}
