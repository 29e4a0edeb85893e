import Testing
@testable import DrivingSimulator

@Suite("Oriented boxes and the neighbour index")
struct CollisionTests {
    @Test("separating-axis test on aligned and rotated rectangles")
    func boxes() {
        #expect(OrientedBox.overlaps(ax: 0, ay: 0, aHalfLength: 2.5, aHalfWidth: 1, aHeading: 0,
                                     bx: 4.9, by: 0, bHalfLength: 2.5, bHalfWidth: 1, bHeading: 0))
        #expect(!OrientedBox.overlaps(ax: 0, ay: 0, aHalfLength: 2.5, aHalfWidth: 1, aHeading: 0,
                                      bx: 5.1, by: 0, bHalfLength: 2.5, bHalfWidth: 1, bHeading: 0))
        #expect(!OrientedBox.overlaps(ax: 0, ay: 0, aHalfLength: 2.5, aHalfWidth: 1, aHeading: 0,
                                      bx: 0, by: 2.1, bHalfLength: 2.5, bHalfWidth: 1, bHeading: 0))
        // Rotated 90°: b is 1 m half-length along y now, so it reaches down to y = 2.0 - 2.5 < 1.
        #expect(OrientedBox.overlaps(ax: 0, ay: 0, aHalfLength: 2.5, aHalfWidth: 1, aHeading: 0,
                                     bx: 0, by: 3.4, bHalfLength: 2.5, bHalfWidth: 1, bHeading: .pi / 2))
        // Diagonal near miss: corners do not touch.
        #expect(!OrientedBox.overlaps(ax: 0, ay: 0, aHalfLength: 1, aHalfWidth: 1, aHeading: 0,
                                      bx: 2.6, by: 2.6, bHalfLength: 1, bHalfWidth: 1, bHeading: .pi / 4))
    }

    /// Brute force over all pairs, the reference the neighbour search must match.
    func bruteForcePairs(_ world: World) -> Set<[Int]> {
        var pairs = Set<[Int]>()
        let actors = world.actors
        for i in actors.indices {
            for j in (i + 1)..<actors.count {
                let a = actors[i], b = actors[j]
                if a.kind.isStatic && b.kind.isStatic { continue }
                if OrientedBox.overlaps(ax: a.s, ay: a.d, aHalfLength: a.length / 2, aHalfWidth: a.width / 2, aHeading: a.heading,
                                        bx: b.s, by: b.d, bHalfLength: b.length / 2, bHalfWidth: b.width / 2, bHeading: b.heading) {
                    pairs.insert([i, j])
                }
            }
        }
        return pairs
    }

    @Test("neighbour-based detection finds every overlapping pair brute force finds")
    func neighbourSearchIsComplete() {
        // A dense random jumble with lateral offsets so boxes straddle lane lines (headings stay
        // small, as on a road, so touching boxes have centres in the same or adjacent lanes).
        var generator = SeededGenerator(seed: 11)
        var others: [Actor] = []
        for _ in 0..<300 {
            let lane = Int(generator.unit() * 4)
            var car = Fixtures.car(lane: lane, s: generator.uniform(0, 600), speed: 0)
            car.d += generator.uniform(-1.2, 1.2)
            car.heading = generator.uniform(-0.15, 0.15)
            if generator.unit() < 0.2 { car.length = Actor.truckLength }
            others.append(car)
        }
        var world = Fixtures.world(lanes: 4, egoLane: 1, egoSpeed: 0, others: others)
        let expected = bruteForcePairs(world)
        #expect(!expected.isEmpty)
        world.detectCollisions()
        var crashed = Set<Int>()
        for pair in expected { crashed.formUnion(pair.filter { $0 != 0 }) }
        let found = Set(world.actors.indices.filter { world.actors[$0].crashed })
        #expect(found == crashed)
    }

    @Test("the neighbour index is sorted by lane and position after steps")
    func indexSorted() {
        var world = Fixtures.world(lanes: 4, others: (0..<60).map { Fixtures.car(lane: $0 % 4, s: Double($0) * 23, speed: 20 + Double($0 % 7)) })
        for _ in 0..<200 { world.step() }
        let order = world.occupancy.order.map { world.actors[Int($0)] }
        for (a, b) in zip(order, order.dropFirst()) {
            #expect(a.lane < b.lane || (a.lane == b.lane && a.s <= b.s))
        }
    }
}
