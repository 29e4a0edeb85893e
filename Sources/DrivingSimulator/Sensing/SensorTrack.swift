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

    /// The track as predicted `age` seconds after its detection: a braking object
    /// stops and stays stopped (its acceleration then reads 0), never reversing.
    func predicted(after age: Double) -> SensorTrack {
        let age = max(age, 0)
        // Braking, it moves only until it stops.
        let t = acceleration < 0 ? min(age, max(speed, 0) / -acceleration) : age
        var track = self
        track.s = s + speed * t + 0.5 * acceleration * t * t
        track.d = d + lateralSpeed * age
        track.speed = max(speed + acceleration * t, 0)
        if track.speed <= 0 && acceleration < 0 { track.acceleration = 0 }
        return track
    }
}
