/// Separating-axis test for two oriented rectangles.
///
/// Vehicles are boxes (length × width) rotated by their heading; two convex
/// shapes are disjoint iff some face normal separates their projections, and
/// for two rectangles four axes suffice. The caller first rejects pairs with a
/// cheap bounding-circle test, so this runs only for near neighbours.
public enum OrientedBox {
    /// Whether box a (centre, half extents, heading) overlaps box b.
    @inline(__always)
    public static func overlaps(ax: Double, ay: Double, aHalfLength: Double, aHalfWidth: Double, aHeading: Double,
                                bx: Double, by: Double, bHalfLength: Double, bHalfWidth: Double, bHeading: Double) -> Bool {
        let ca = _cos(aHeading), sa = _sin(aHeading)
        let cb = _cos(bHeading), sb = _sin(bHeading)
        let tx = bx - ax, ty = by - ay
        @inline(__always) func separated(_ ux: Double, _ uy: Double) -> Bool {
            let distance = abs(tx * ux + ty * uy)
            let ra = aHalfLength * abs(ca * ux + sa * uy) + aHalfWidth * abs(-sa * ux + ca * uy)
            let rb = bHalfLength * abs(cb * ux + sb * uy) + bHalfWidth * abs(-sb * ux + cb * uy)
            return distance > ra + rb
        }
        if separated(ca, sa) { return false }
        if separated(-sa, ca) { return false }
        if separated(cb, sb) { return false }
        if separated(-sb, cb) { return false }
        return true
    }
}
