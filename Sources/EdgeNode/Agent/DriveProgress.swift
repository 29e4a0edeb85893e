import _DurableFiles
import Foundation

/// Where the simulated vehicle's drive stands, kept across restarts.
///
/// Why: episodes are drawn from the node's seed by index, so a node that
/// started again from episode 0 would drive — and capture — the same scenes
/// again. The next index is written (temp + fsync + rename) every few
/// episodes and when the drive stops; after a crash at most those few
/// episodes are driven twice.
struct DriveProgress: Sendable {
    let file: URL

    init(dataDirectory: URL) {
        file = dataDirectory.appendingPathComponent("drive-progress.json")
    }

    /// The next episode to drive (0 when nothing was stored or the file is unreadable).
    func load() -> Int {
        guard let data = FileManager.default.contents(atPath: file.path),
              let stored = try? JSONDecoder().decode(Stored.self, from: data), stored.nextEpisode >= 0
        else { return 0 }
        return stored.nextEpisode
    }

    func save(nextEpisode: Int) throws(DurableFileError) {
        let bytes = (try? JSONEncoder().encode(Stored(nextEpisode: nextEpisode))).map { Array($0) } ?? []
        try DurableFile.write(bytes, to: file)
    }

    private struct Stored: Codable {
        var nextEpisode: Int

        enum CodingKeys: String, CodingKey { case nextEpisode = "next_episode" }
    }
}
