/// Runs `body`, failing with 408 when it takes longer than `seconds`.
func withDeadline<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw CoordinatorError(.requestTimeout, "the request body did not arrive within \(Int(seconds)) seconds")
        }
        return value
    }
}
