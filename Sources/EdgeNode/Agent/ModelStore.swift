import _DurableFiles
import FleetWire
import Foundation

/// The verified model on disk, so a restarted node drives at once with what it last trusted.
///
/// Layout under the data directory's `models/`: `v<N>.safetensors`,
/// `v<N>.manifest.json` (the signed bytes) and `v<N>.signature`, then a
/// `current` file holding `N`. Each file is written to a temporary name,
/// flushed and renamed (``DurableFile``), and `current` is written last, so a
/// crash at any moment leaves `current` naming a complete set. On start the
/// set is verified again (signature and hash) before it may drive; older
/// sets are removed once a newer one is current.
///
/// Beside them, `floor` holds the highest version ever installed (written
/// after `current`, so a crash between the two leaves a floor one version low,
/// which the verified `current` raises again on start — never one too high),
/// and `freshness.json` the newest freshness statement accepted, with its
/// signature, so neither a rollback nor a replayed statement gets past a restart.
struct ModelStore: Sendable {
    let directory: URL

    init(directory: URL) throws(AgentError) {
        self.directory = directory
        do { try DurableFile.prepareDirectory(directory) } catch {
            throw AgentError(.storage, "cannot open the model directory \(directory.path): \(error.message)")
        }
    }

    /// Stores `model` and makes it current.
    func save(_ model: VerifiedModel) throws(AgentError) {
        let stem = "v\(model.version)"
        do {
            try DurableFile.write(model.checkpoint, to: directory.appendingPathComponent(stem + ".safetensors"))
            try DurableFile.write(model.manifestBytes, to: directory.appendingPathComponent(stem + ".manifest.json"))
            try DurableFile.write(model.signature, to: directory.appendingPathComponent(stem + ".signature"))
            try DurableFile.write(Array("\(model.version)\n".utf8), to: directory.appendingPathComponent("current"))
            if model.version > ((try? loadFloor()) ?? 0) {
                try DurableFile.write(Array("\(model.version)\n".utf8), to: directory.appendingPathComponent("floor"))
            }
        } catch {
            throw AgentError(.storage, "cannot store model version \(model.version) in \(directory.path): \(error.message)")
        }
        removeAll(except: model.version)
    }

    /// The current model, verified again; nil when none is stored.
    ///
    /// - Throws: ``AgentError/Code/modelRejected`` when the stored set no longer verifies,
    ///   ``AgentError/Code/storage`` when it is incomplete.
    func load(verifier: ModelVerifier) throws(AgentError) -> VerifiedModel? {
        guard let pointer = FileManager.default.contents(atPath: directory.appendingPathComponent("current").path) else { return nil }
        guard let version = UInt64(String(decoding: pointer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw AgentError(.storage, "\(directory.path)/current does not hold a version number")
        }
        let stem = "v\(version)"
        func read(_ suffix: String) throws(AgentError) -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(stem + suffix).path) else {
                throw AgentError(.storage, "stored model version \(version) lacks \(stem + suffix)")
            }
            return Array(data)
        }
        return try verifier.verify(
            manifestBytes: try read(".manifest.json"), signature: try read(".signature"), checkpoint: try read(".safetensors"))
    }

    /// The highest version ever installed (0 when none was).
    /// - Throws: ``AgentError/Code/storage`` when the file does not hold a version number.
    func loadFloor() throws(AgentError) -> UInt64 {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("floor").path) else { return 0 }
        guard let floor = UInt64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw AgentError(.storage, "\(directory.path)/floor does not hold a version number")
        }
        return floor
    }

    /// Keeps the newest accepted freshness statement, as signed.
    func saveFreshness(_ signed: SignedFreshness) throws(AgentError) {
        do {
            let bytes = try JSONEncoder().encode(signed)
            try DurableFile.write(Array(bytes), to: directory.appendingPathComponent("freshness.json"))
        } catch {
            throw AgentError(.storage, "cannot store the freshness statement in \(directory.path): \(error)")
        }
    }

    /// The newest freshness statement accepted before, as signed (verify it before use); nil when none is stored or it is unreadable.
    func loadFreshness() -> SignedFreshness? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("freshness.json").path) else { return nil }
        return try? JSONDecoder().decode(SignedFreshness.self, from: data)
    }

    private func removeAll(except version: UInt64) {
        let keep = "v\(version)."
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix("v") && !name.hasPrefix(keep) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}
