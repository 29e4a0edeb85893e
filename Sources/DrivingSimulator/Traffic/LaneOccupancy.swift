/// Actors sorted by lane and by position along the road: the neighbour index.
///
/// Why: IDM needs each vehicle's leader, MOBIL the leader and follower in the
/// next lane, collision checks the boxes that can touch. Keeping one array of
/// actor indices ordered by `(lane, s, index)` answers all of these in O(1) or
/// O(log n) without a scan over all pairs. The order changes little from one
/// step to the next, so an insertion sort over the previous order costs about
/// O(n) per step and allocates nothing. The key is a total order, so the result
/// does not depend on the order it started from (a restored snapshot rebuilds
/// exactly the same index).
struct LaneOccupancy: Sendable {
    /// Actor indices sorted by (lane, s, index); off-road actors (lane -1) first.
    var order: [Int32] = []
    /// `order` position of each actor.
    var rank: [Int32] = []
    /// Block boundaries: lane `L` occupies `order[starts[L + 1] ..< starts[L + 2]]`.
    var starts: [Int32] = []

    init() {}

    init(actors: [Actor], laneCount: Int) {
        order = (0..<Int32(actors.count)).map { $0 }
        rank = order
        starts = [Int32](repeating: 0, count: laneCount + 2)
        rebuild(actors: actors)
    }

    @inline(__always)
    static func precedes(_ a: Int32, _ b: Int32, _ actors: UnsafeBufferPointer<Actor>) -> Bool {
        let la = actors[Int(a)].lane, lb = actors[Int(b)].lane
        if la != lb { return la < lb }
        let sa = actors[Int(a)].s, sb = actors[Int(b)].s
        if sa != sb { return sa < sb }
        return a < b
    }

    /// Re-sorts after actors moved or changed lane.
    mutating func rebuild(actors: [Actor]) {
        actors.withUnsafeBufferPointer { rebuild(actors: $0) }
    }

    mutating func rebuild(actors: UnsafeBufferPointer<Actor>) {
        let n = order.count
        order.withUnsafeMutableBufferPointer { order in
            var i = 1
            while i < n {
                let item = order[i]
                var j = i - 1
                while j >= 0 && LaneOccupancy.precedes(item, order[j], actors) {
                    order[j + 1] = order[j]
                    j -= 1
                }
                order[j + 1] = item
                i += 1
            }
        }
        let laneSlots = starts.count - 1
        starts.withUnsafeMutableBufferPointer { starts in
            for k in 0..<starts.count { starts[k] = 0 }
            order.withUnsafeBufferPointer { order in
                rank.withUnsafeMutableBufferPointer { rank in
                    for position in 0..<n {
                        let index = Int(order[position])
                        rank[index] = Int32(position)
                        let slot = min(max(actors[index].lane + 1, 0), laneSlots - 1)
                        starts[slot + 1] += 1
                    }
                }
            }
            for k in 1..<starts.count { starts[k] += starts[k - 1] }
        }
    }

    /// The `order` range of lane `lane` (-1 for off-road).
    @inline(__always)
    func range(of lane: Int) -> Range<Int> {
        let slot = lane + 1
        guard slot >= 0 && slot + 1 < starts.count else { return 0..<0 }
        return Int(starts[slot])..<Int(starts[slot + 1])
    }

    /// The first `order` position in `lane` whose actor is strictly ahead of `s` (binary search;
    /// the block's upper bound if none is).
    @inline(__always)
    func firstPosition(in lane: Int, after s: Double, actors: UnsafeBufferPointer<Actor>) -> Int {
        let r = range(of: lane)
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi {
            let mid = (lo + hi) >> 1
            if actors[Int(order[mid])].s <= s { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
