import Foundation

/// A version as the API lists it: the manifest embedded as the exact JSON that was signed.
enum VersionRecordJSON {
    static func encode(_ version: PublishedVersion) -> String {
        let signature = version.signature.map { "\"" + Data($0).base64EncodedString() + "\"" } ?? "null"
        let manifest = String(decoding: version.manifestBytes, as: UTF8.self)
        return "{\"version\":\(version.number),\"status\":\"\(version.status.rawValue)\",\"manifest\":\(manifest),\"signature\":\(signature)}"
    }
}
