// swift-tools-version: 6.2
import PackageDescription

/// Upcoming features every module of ours is built with: explicit `any`, and
/// imports that are internal unless a module re-exports them on purpose.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "FleetLearning",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PolicyNetwork", targets: ["PolicyNetwork"]),
        .library(name: "FleetWire", targets: ["FleetWire"]),
        .library(name: "Aggregation", targets: ["Aggregation"]),
        .library(name: "DrivingSimulator", targets: ["DrivingSimulator"]),
        .library(name: "SecureTransport", targets: ["SecureTransport"]),
        .executable(name: "policy-benchmark", targets: ["PolicyBenchmark"]),
        .executable(name: "aggregation-benchmark", targets: ["AggregationBenchmark"]),
        .executable(name: "fleet-sim", targets: ["FleetSimCLI"]),
        .executable(name: "simulator-benchmark", targets: ["SimulatorBenchmark"]),
        .executable(name: "edge-learning-benchmark", targets: ["EdgeLearningBenchmark"]),
        .executable(name: "fleet-coordinator", targets: ["FleetCoordinatorCLI"]),
        .executable(name: "tls-benchmark", targets: ["TLSBenchmark"]),
        .executable(name: "fleet-node", targets: ["FleetNodeCLI"]),
        .executable(name: "fleet-load-benchmark", targets: ["FleetLoadBenchmark"]),
        .executable(name: "fedavg-benchmark", targets: ["FederatedAveragingBenchmark"]),
        .executable(name: "gate-benchmark", targets: ["GateBenchmark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
    ],
    targets: [
        // MARK: System libraries (pkg-config)
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),

        // MARK: Modules
        .target(
            name: "_DurableFiles",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PolicyNetwork",
            dependencies: ["CBLAS"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CFleetWireKernels"
        ),
        .target(
            name: "FleetWire",
            dependencies: ["PolicyNetwork", "CZstd", "CFleetWireKernels"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Aggregation",
            dependencies: ["FleetWire"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "_DurableFiles",
                "Aggregation",
                "FleetEvaluation",
                "FleetWire",
                "SecureTransport",
                "DrivingSimulator",
                "PolicyNetwork",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EdgeLearning",
            dependencies: ["_DurableFiles", "FleetEvaluation", "FleetWire"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FleetEvaluation",
            dependencies: ["DrivingSimulator", "PolicyNetwork"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EdgeNode",
            dependencies: [
                "_DurableFiles",
                "EdgeLearning",
                "SecureTransport",
                "FleetWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FleetSimulation",
            dependencies: [
                "Coordinator", "EdgeNode", "EdgeLearning", "FleetEvaluation", "DrivingSimulator", "FleetWire",
                "PolicyNetwork", "SecureTransport", "Aggregation",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DrivingSimulator",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SecureTransport",
            dependencies: [
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Executables
        .executableTarget(
            name: "FleetCoordinatorCLI",
            dependencies: [
                "Coordinator",
                "Aggregation",
                "DrivingSimulator",
                "FleetEvaluation",
                "FleetWire",
                "PolicyNetwork",
                "SecureTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FleetNodeCLI",
            dependencies: [
                "EdgeNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FleetSimCLI",
            dependencies: [
                "DrivingSimulator", "FleetSimulation", "Aggregation", "Coordinator", "EdgeLearning", "FleetEvaluation",
                "PolicyNetwork", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks
        .executableTarget(
            name: "SimulatorBenchmark",
            dependencies: [
                "DrivingSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/SimulatorBenchmark",
            exclude: ["highway_env_peer.py"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "EdgeLearningBenchmark",
            dependencies: [
                "EdgeLearning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/EdgeLearningBenchmark",
            exclude: ["delta_peer.py"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PolicyBenchmark",
            dependencies: [
                "PolicyNetwork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/PolicyBenchmark",
            exclude: ["policy_peer.py"],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "AggregationBenchmark",
            dependencies: ["Aggregation", "FleetWire", "PolicyNetwork", "EdgeLearning", "FleetEvaluation", "DrivingSimulator"],
            path: "Benchmarks/AggregationBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "TLSBenchmark",
            dependencies: [
                "SecureTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/TLSBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FleetLoadBenchmark",
            dependencies: [
                "EdgeNode", "Aggregation", "FleetWire", "FleetEvaluation", "DrivingSimulator", "SecureTransport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/FleetLoadBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FederatedAveragingBenchmark",
            dependencies: [
                "EdgeLearning", "Aggregation", "FleetWire", "FleetEvaluation", "DrivingSimulator", "PolicyNetwork", "SecureTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/FederatedAveragingBenchmark",
            exclude: ["flower_peer.py"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "GateBenchmark",
            dependencies: [
                "Coordinator", "FleetEvaluation", "FleetWire", "DrivingSimulator", "PolicyNetwork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/GateBenchmark",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(
            name: "PolicyNetworkTests",
            dependencies: ["PolicyNetwork"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FleetWireTests",
            dependencies: ["FleetWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AggregationTests",
            dependencies: ["Aggregation", "FleetWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AggregationRobustnessTests",
            dependencies: ["Aggregation", "FleetWire", "FleetEvaluation", "DrivingSimulator", "PolicyNetwork"],
            exclude: ["Lessons"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FleetSimulationTests",
            dependencies: ["FleetSimulation", "DrivingSimulator", "Coordinator", "EdgeLearning", "FleetEvaluation", "FleetWire", "PolicyNetwork"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Coordinator", "FleetWire", "PolicyNetwork", "FleetEvaluation", "DrivingSimulator", "SecureTransport",
                "Aggregation",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeNodeTests",
            dependencies: [
                "EdgeNode",
                "EdgeLearning",
                "FleetEvaluation",
                "FleetWire",
                "DrivingSimulator",
                "PolicyNetwork",
                "SecureTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["DrivingSimulator", "EdgeLearning", "FleetWire", "SecureTransport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeLearningTests",
            dependencies: ["EdgeLearning", "FleetWire", "FleetEvaluation", "DrivingSimulator", "PolicyNetwork"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FleetEvaluationTests",
            dependencies: ["FleetEvaluation", "DrivingSimulator", "PolicyNetwork"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DrivingSimulatorTests",
            dependencies: ["DrivingSimulator"],
            resources: [],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SecureTransportTests",
            dependencies: [
                "SecureTransport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
