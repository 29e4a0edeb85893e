import Foundation
import Testing
@testable import PolicyNetwork

/// Runs Python for interoperability checks.
enum Python {
    /// Exit status and combined output of `python3 -c script args...`.
    static func run(_ script: String, _ arguments: [String] = []) -> (status: Int32, output: String)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Nil when python3 with numpy and safetensors is available, else why not.
    static let missingSafetensors: String? = {
        guard let result = run("import numpy, safetensors.numpy") else { return "python3 is not installed" }
        return result.status == 0 ? nil : "python3 lacks numpy or safetensors (pip install numpy safetensors)"
    }()
}

@Suite("Python interoperability")
struct PythonInteropTests {
    @Test(.enabled(if: Python.missingSafetensors == nil, "needs python3 with numpy and safetensors (scripts/bootstrap test installs them)"))
    func filesWrittenHereLoadInPythonAndViceVersa() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("interop-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ours = directory.appendingPathComponent("swift.safetensors").path
        let theirs = directory.appendingPathComponent("python.safetensors").path

        let architecture = try PolicyArchitecture(inputs: 5, experts: 3, hidden: 4, topK: 2, actions: 3, activation: .tanh)
        let policy = try MoEPolicy(architecture: architecture, seed: 11)
        try policy.save(to: ours)
        // Python recomputes nothing; it checks what we tell it on the command line.
        let w = policy.router.weight
        let script = """
        import sys, numpy as np
        from safetensors import safe_open
        from safetensors.numpy import load_file, save_file
        path, out, w01, w14, b2 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        t = load_file(path)
        assert t["router.weight"].dtype == np.float32 and t["router.weight"].shape == (3, 5), t["router.weight"].shape
        assert t["router.weight"][0, 1] == np.float32(w01) and t["router.weight"][1, 4] == np.float32(w14)
        assert t["experts.2.fc2.bias"].shape == (3,) and t["experts.1.fc1.weight"].shape == (4, 5)
        assert t["router.bias"][2] == np.float32(b2)
        with safe_open(path, "np") as f:
            meta = f.metadata()
        assert meta["fleet.experts"] == "3" and meta["fleet.activation"] == "tanh", meta
        assert len(t) == 2 + 4 * 3
        # Write a checkpoint back: our tensors scaled by 2, one expert's fc1 in float16.
        back = {k: (v * 2).astype(np.float32) for k, v in t.items()}
        back["experts.0.fc1.weight"] = np.arange(20, dtype=np.float16).reshape(4, 5) / 8
        save_file(back, out, metadata=meta)
        print("ok")
        """
        let result = try #require(Python.run(script, [ours, theirs, "\(w[0, 1])", "\(w[1, 4])", "\(policy.router.bias[2])"]))
        #expect(result.status == 0, "python: \(result.output)")
        guard result.status == 0 else { return }

        let loaded = try MoEPolicy(contentsOf: theirs)
        #expect(loaded.architecture == architecture)
        #expect(loaded.router.weight.scalars == policy.router.weight.scalars.map { $0 * 2 })
        #expect(loaded.experts[2].fc2.bias.scalars == policy.experts[2].fc2.bias.scalars.map { $0 * 2 })
        #expect(loaded.experts[0].fc1.weight.scalars == (0..<20).map { Float($0) / 8 })
    }
}
