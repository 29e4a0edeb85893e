/// A multi-lane road described in road coordinates.
///
/// Positions are Frenet-like: `s` runs along the reference line (the right
/// edge of lane 0) and `d` to the left of it, so lane `i` spans
/// `[i·w, (i+1)·w)` and its centre is `(i + ½)·w`. Lane 0 is the rightmost
/// lane; `LANE_LEFT` moves to a higher index. Working in (s, d) makes curved
/// segments cheap: curvature only enters the ego's kinematics (the yaw rate the
/// road demands, `v²κ` of lateral acceleration) and never the neighbour search.
///
/// A lane can be closed on stretches of road (construction, the end of an
/// on-ramp); closed stretches are not drivable and traffic treats their start
/// as a stopped obstacle, which is what makes vehicles merge out of them.
public struct Road: Sendable, Codable, Equatable {
    /// Number of lanes, including an on-ramp's acceleration lane.
    public let laneCount: Int
    /// Lane width in metres.
    public let laneWidth: Double
    /// Consecutive segments along `s`.
    public let segments: [RoadSegment]
    /// Stretches where a lane does not exist or is closed.
    public let closures: [LaneClosure]
    /// Start `s` of each segment (same count as `segments`), precomputed.
    let segmentStarts: [Double]
    /// Closures sorted by (lane, from), flattened so lookups touch no nested arrays.
    let sortedClosures: [LaneClosure]
    /// Lane `L`'s closures are `sortedClosures[closureStarts[L] ..< closureStarts[L + 1]]`.
    let closureStarts: [Int]

    /// Total length in metres.
    public var length: Double { (segmentStarts.last ?? 0) + (segments.last?.length ?? 0) }
    /// Total width in metres.
    public var width: Double { Double(laneCount) * laneWidth }

    public init(laneCount: Int, laneWidth: Double, segments: [RoadSegment], closures: [LaneClosure] = []) {
        self.laneCount = laneCount
        self.laneWidth = laneWidth
        self.segments = segments
        self.closures = closures
        var starts: [Double] = []
        var s = 0.0
        for segment in segments {
            starts.append(s)
            s += segment.length
        }
        segmentStarts = starts
        let valid = closures.filter { $0.lane >= 0 && $0.lane < laneCount }
        sortedClosures = valid.sorted { ($0.lane, $0.from) < ($1.lane, $1.from) }
        var offsets = [Int](repeating: 0, count: max(laneCount, 0) + 1)
        for closure in sortedClosures { offsets[closure.lane + 1] += 1 }
        for k in 1..<offsets.count { offsets[k] += offsets[k - 1] }
        closureStarts = offsets
    }

    enum CodingKeys: String, CodingKey { case laneCount, laneWidth, segments, closures }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            laneCount: try c.decode(Int.self, forKey: .laneCount),
            laneWidth: try c.decode(Double.self, forKey: .laneWidth),
            segments: try c.decode([RoadSegment].self, forKey: .segments),
            closures: try c.decode([LaneClosure].self, forKey: .closures))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(laneCount, forKey: .laneCount)
        try c.encode(laneWidth, forKey: .laneWidth)
        try c.encode(segments, forKey: .segments)
        try c.encode(closures, forKey: .closures)
    }

    /// The index of the segment containing `s` (the last one beyond the end).
    @inline(__always)
    func segmentIndex(at s: Double) -> Int {
        var index = 0
        while index + 1 < segmentStarts.count && segmentStarts[index + 1] <= s { index += 1 }
        return index
    }

    /// Curvature (1/m, positive to the left) at `s`.
    @inline(__always)
    public func curvature(at s: Double) -> Double {
        segments.isEmpty ? 0 : segments[segmentIndex(at: s)].curvature
    }

    /// Speed limit (m/s) at `s`.
    @inline(__always)
    public func speedLimit(at s: Double) -> Double {
        segments.isEmpty ? 30 : segments[segmentIndex(at: s)].speedLimit
    }

    /// The largest-magnitude curvature on `[s, s + distance]`, with its sign.
    public func sharpestCurvature(from s: Double, over distance: Double) -> Double {
        var best = 0.0
        var index = segmentIndex(at: s)
        while index < segments.count && segmentStarts[index] <= s + distance {
            let k = segments[index].curvature
            if abs(k) > abs(best) { best = k }
            index += 1
        }
        return best
    }

    /// Centre `d` of `lane`.
    @inline(__always)
    public func laneCentre(_ lane: Int) -> Double { (Double(lane) + 0.5) * laneWidth }

    /// The lane whose span contains `d`, or -1 off the road.
    @inline(__always)
    public func lane(at d: Double) -> Int {
        if d < 0 || d >= width { return -1 }
        return min(Int(d / laneWidth), laneCount - 1)
    }

    /// Whether `lane` exists and is open at `s`.
    @inline(__always)
    public func isOpen(lane: Int, at s: Double) -> Bool {
        guard lane >= 0 && lane < laneCount else { return false }
        var k = closureStarts[lane]
        let end = closureStarts[lane + 1]
        while k < end {
            if s >= sortedClosures[k].from && s < sortedClosures[k].to { return false }
            k += 1
        }
        return true
    }

    /// Distance from `s` to where `lane` next closes (∞ if it stays open).
    @inline(__always)
    public func distanceToLaneEnd(lane: Int, from s: Double) -> Double {
        guard lane >= 0 && lane < laneCount else { return 0 }
        var k = closureStarts[lane]
        let end = closureStarts[lane + 1]
        while k < end {
            if sortedClosures[k].to > s { return max(sortedClosures[k].from - s, 0) }
            k += 1
        }
        return .infinity
    }

    /// Whether a point is on drivable surface (inside the road and in an open lane).
    public func isDrivable(s: Double, d: Double) -> Bool {
        let lane = lane(at: d)
        return lane >= 0 && isOpen(lane: lane, at: s)
    }
}

/// A stretch of road with constant curvature and speed limit.
public struct RoadSegment: Sendable, Codable, Equatable {
    /// Length along the reference line, metres.
    public var length: Double
    /// Curvature in 1/m (radius = 1/κ), positive bending left; 0 is straight.
    public var curvature: Double
    /// Speed limit in m/s.
    public var speedLimit: Double

    public init(length: Double, curvature: Double = 0, speedLimit: Double) {
        self.length = length
        self.curvature = curvature
        self.speedLimit = speedLimit
    }
}

/// A stretch `[from, to)` where `lane` is not drivable.
public struct LaneClosure: Sendable, Codable, Equatable {
    public var lane: Int
    public var from: Double
    public var to: Double
    /// Whether cones mark the start of the closure (construction) or it is a
    /// lane that simply ends (on-ramp).
    public var cones: Bool

    public init(lane: Int, from: Double, to: Double, cones: Bool) {
        self.lane = lane
        self.from = from
        self.to = to
        self.cones = cones
    }
}

extension Road {
    /// Metres of road ahead ``advisorySpeed(from:grip:)`` looks at.
    public static let advisoryLookahead = 400.0

    /// The highest speed at `s` from which every bend in the next
    /// ``advisoryLookahead`` metres can be taken within 0.8·`grip` of lateral
    /// acceleration, braking at 0.7·`grip` before it, and no limit is passed
    /// (a map's curve-speed advisory for the grip the car feels).
    public func advisorySpeed(from s: Double, grip: Double) -> Double {
        var safe = speedLimit(at: s)
        var index = segmentIndex(at: s)
        while index < segments.count && segmentStarts[index] <= s + Road.advisoryLookahead {
            let segment = segments[index]
            let distance = max(segmentStarts[index] - s, 0)
            var vSegment = segment.speedLimit
            if segment.curvature != 0 {
                vSegment = min(vSegment, (0.8 * max(grip, 0) / abs(segment.curvature)).squareRoot())
            }
            safe = min(safe, (vSegment * vSegment + 2 * 0.7 * max(grip, 0) * distance).squareRoot())
            index += 1
        }
        return safe
    }
}
