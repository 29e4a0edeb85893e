import ArgumentParser

struct RunBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the benchmark.")
    func run() async throws {}
}
