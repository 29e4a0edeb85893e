@testable import PolicyNetwork

/// A seeded tensor with values uniform in [-scale, scale).
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    var tensor = Tensor(shape: shape)
    for i in 0..<tensor.count { tensor[i] = generator.nextUniform(bound: scale) }
    return tensor
}

/// Σ r ⊙ y in Double: a scalar loss whose gradient with respect to y is r.
func weightedSum(_ y: Tensor, _ r: Tensor) -> Double {
    var sum = 0.0
    for i in 0..<y.count { sum += Double(y[i]) * Double(r[i]) }
    return sum
}

/// Compares analytic and central-difference gradients of `loss` with respect to `tensor`.
///
/// Checks at most `samples` coordinates (all if fewer); each must satisfy
/// |analytic − numeric| ≤ absolute + relative·|numeric|. Returns the worst
/// violation ratio (≤ 1 passes) and the coordinates checked.
func gradientCheck(
    _ tensor: Tensor, analytic: Tensor, step: Float = 1e-2, samples: Int = 24, seed: UInt64 = 7,
    absolute: Double = 2e-3, relative: Double = 2e-2,
    loss: (Tensor) -> Double?
) -> (worst: Double, checked: Int, detail: String) {
    var generator = SeededGenerator(seed: seed)
    let indices = tensor.count <= samples
        ? Array(0..<tensor.count) : (0..<samples).map { _ in Int(generator.next() % UInt64(tensor.count)) }
    var worst = 0.0
    var checked = 0
    var detail = ""
    for i in indices {
        var plus = tensor, minus = tensor
        plus[i] += step
        minus[i] -= step
        guard let lp = loss(plus), let lm = loss(minus) else { continue }
        let numeric = (lp - lm) / (2 * Double(step))
        let a = Double(analytic[i])
        let ratio = abs(a - numeric) / (absolute + relative * abs(numeric))
        if ratio > worst {
            worst = ratio
            detail = "index \(i): analytic \(a), numeric \(numeric)"
        }
        checked += 1
    }
    return (worst, checked, detail)
}
