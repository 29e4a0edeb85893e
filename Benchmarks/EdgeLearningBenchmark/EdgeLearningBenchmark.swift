import ArgumentParser

/// `edge-learning-benchmark`: measures a lesson end to end, and trains the base policy it starts from.
@main
struct EdgeLearningBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge-learning-benchmark",
        abstract: "Edge learning: failure rates before and after one lesson, gold-suite score, delta size and codec speed.",
        subcommands: [RunBenchmark.self, TrainBase.self],
        defaultSubcommand: RunBenchmark.self)
}
