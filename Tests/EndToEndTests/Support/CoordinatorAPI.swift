import Foundation

/// What the test reads from the coordinator (its API over curl, with car-1's certificate) and from a node's metrics file.
extension Fleet {
    /// The unlabelled samples of a Prometheus text file, by metric name.
    static func samples(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, !parts[0].contains("{"), let value = Double(parts[1]) else { continue }
            values[String(parts[0])] = value
        }
        return values
    }

    // MARK: The coordinator's API over curl, with car-1's certificate

    struct Status: Decodable {
        struct Round: Decodable, Equatable {
            var number: UInt64
            var phase: String
            var accepted: Int
        }
        var currentVersion: UInt64
        var nodesOnline: Int
        var round: Round?
        enum CodingKeys: String, CodingKey {
            case currentVersion = "current_version"
            case nodesOnline = "nodes_online"
            case round
        }

        /// What changes as rounds move on: the version, and the open round's number, phase and accepted updates.
        var progress: String {
            "version \(currentVersion), round " + (round.map { "\($0.number) \($0.phase) with \($0.accepted) accepted" } ?? "none")
        }
    }

    struct VersionRecord: Decodable {
        struct Manifest: Decodable {
            var parent: UInt64?
            var round: UInt64?
            var contributors: [String]
        }
        var version: UInt64
        var status: String
        var manifest: Manifest
        var signature: String?
    }

    private func get(_ port: Int, _ path: String, extra: [String] = []) async throws -> String {
        let output = try await Command.run(curl, [
            "-sS", "--fail-with-body", "--max-time", "30",
            "--cacert", self.path("ca.pem"), "--cert", self.path("car-1.pem"), "--key", self.path("car-1.key"),
        ] + extra + ["https://127.0.0.1:\(port)\(path)"])
        guard output.status == 0 else { throw EndToEndError("curl \(path) failed (\(output.status)): \(output.stderr) \(output.stdout)") }
        return output.stdout
    }

    func status(_ port: Int) async throws -> Status {
        try JSONDecoder().decode(Status.self, from: Data(try await get(port, "/v1/status").utf8))
    }

    func versionList(_ port: Int) async throws -> [VersionRecord] {
        struct List: Decodable { var versions: [VersionRecord] }
        return try JSONDecoder().decode(List.self, from: Data(try await get(port, "/v1/versions").utf8)).versions
    }

    /// The signed manifest and signature the coordinator serves with version `version` (its response headers).
    func servedManifest(_ port: Int, version: UInt64) async throws -> (manifest: [UInt8], signature: [UInt8]) {
        let headerFile = directory.appendingPathComponent("headers-\(version)-\(UUID().uuidString.prefix(6))")
        _ = try await get(port, "/v1/models/\(version)", extra: ["-o", "/dev/null", "-D", headerFile.path])
        var headers: [String: String] = [:]
        for line in try String(contentsOf: headerFile, encoding: .utf8).split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let manifest = headers["fleet-manifest"].flatMap({ Data(base64Encoded: $0) }),
              let signature = headers["fleet-manifest-signature"].flatMap({ Data(base64Encoded: $0) }) else {
            throw EndToEndError("GET /v1/models/\(version) lacks the Fleet-Manifest or Fleet-Manifest-Signature header: \(headers)")
        }
        return ([UInt8](manifest), [UInt8](signature))
    }
}
