/// MOBIL: "Minimizing Overall Braking Induced by Lane changes" (Kesting, Treiber & Helbing 2007).
///
/// A lane change is *safe* when the new follower would not have to brake
/// harder than `b_safe`, and *worth it* when
///
///     (ã_c − a_c) + p · [(ã_n − a_n) + (ã_o − a_o)] > Δa_th
///
/// where c is the changer, n the new follower, o the old follower, a the
/// accelerations now and ã after the change. Accelerations come from IDM.
public enum LaneChangeModel {
    /// The incentive criterion; returns the net gain (positive beyond the threshold means change).
    @inline(__always)
    public static func incentive(changerGain: Double, newFollowerGain: Double, oldFollowerGain: Double,
                                 behaviour p: DriverBehaviour) -> Double {
        changerGain + p.politeness * (newFollowerGain + oldFollowerGain) - p.laneChangeGain
    }

    /// The safety criterion: the new follower's acceleration after the change must stay above `-b_safe`.
    @inline(__always)
    public static func isSafe(newFollowerAcceleration: Double, behaviour p: DriverBehaviour) -> Bool {
        newFollowerAcceleration >= -p.safeBraking
    }
}
