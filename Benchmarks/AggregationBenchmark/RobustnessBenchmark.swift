enum RobustnessBenchmark {
    static func run(nodes: Int) throws {
        print("not yet")
    }
}
