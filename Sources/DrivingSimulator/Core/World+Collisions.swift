extension World {
    /// Largest centre distance along the road at which two boxes can touch (two trucks), m.
    static let collisionReach = Actor.truckLength + 1

    /// Tests near pairs from the neighbour index for box overlap.
    ///
    /// For each lane, each actor is tested against the actors ahead of it in
    /// the same lane and against the actors of the next lane to the left within
    /// `collisionReach` (a moving window over the sorted list). Straddling
    /// vehicles belong to the lane of their centre, and any two boxes that
    /// touch have centres in the same or adjacent lanes, so no pair is missed.
    mutating func detectCollisions() {
        let laneCount = road.laneCount
        let occupancy = self.occupancy
        let reach = World.collisionReach
        var egoHit = -1
        actors.withUnsafeMutableBufferPointer { actors in
            occupancy.order.withUnsafeBufferPointer { order in
                for lane in 0..<laneCount {
                    let same = occupancy.range(of: lane)
                    let next = lane + 1 < laneCount ? occupancy.range(of: lane + 1) : 0..<0
                    var windowStart = next.lowerBound
                    for p in same {
                        let i = Int(order[p])
                        let si = actors[i].s
                        var q = p + 1
                        while q < same.upperBound {
                            let j = Int(order[q])
                            if actors[j].s - si > reach { break }
                            if World.touch(i, j, actors) { World.crash(i, j, actors, &egoHit) }
                            q += 1
                        }
                        while windowStart < next.upperBound && actors[Int(order[windowStart])].s < si - reach {
                            windowStart += 1
                        }
                        var k = windowStart
                        while k < next.upperBound {
                            let j = Int(order[k])
                            if actors[j].s - si > reach { break }
                            if World.touch(i, j, actors) { World.crash(i, j, actors, &egoHit) }
                            k += 1
                        }
                    }
                }
            }
        }
        if egoHit >= 0 && !egoCollided {
            egoCollided = true
            collisionPartner = egoHit
        }
    }

    @inline(__always)
    static func touch(_ i: Int, _ j: Int, _ actors: UnsafeMutableBufferPointer<Actor>) -> Bool {
        let a = actors[i], b = actors[j]
        if a.kind.isStatic && b.kind.isStatic { return false }
        if a.crashed && b.crashed { return false }
        let ds = b.s - a.s, dd = b.d - a.d
        // Bounding circles: half diagonals bound the box whatever its heading.
        let reach = 0.5 * ((a.length * a.length + a.width * a.width).squareRoot()
                           + (b.length * b.length + b.width * b.width).squareRoot())
        if abs(ds) > reach || abs(dd) > reach || ds * ds + dd * dd > reach * reach { return false }
        return OrientedBox.overlaps(ax: a.s, ay: a.d, aHalfLength: a.length / 2, aHalfWidth: a.width / 2, aHeading: a.heading,
                                    bx: b.s, by: b.d, bHalfLength: b.length / 2, bHalfWidth: b.width / 2, bHeading: b.heading)
    }

    @inline(__always)
    static func crash(_ i: Int, _ j: Int, _ actors: UnsafeMutableBufferPointer<Actor>, _ egoHit: inout Int) {
        if i == 0 { egoHit = j } else if j == 0 { egoHit = i }
        @inline(__always) func stop(_ k: Int) {
            guard k != 0 && !actors[k].kind.isStatic else { return }
            // A wreck skids to a halt (full braking, no steering) rather than stopping dead,
            // so a crash ahead is not an unavoidable wall for the traffic behind it.
            actors[k].crashed = true
            actors[k].lateralSpeed = 0
            actors[k].scriptedAcceleration = nil
            actors[k].changesLanes = false
            actors[k].targetLane = max(actors[k].lane, 0)
        }
        stop(i)
        stop(j)
    }
}
