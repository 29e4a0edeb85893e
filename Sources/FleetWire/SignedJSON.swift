import Foundation

/// The JSON documents the coordinator signs (manifests, freshness statements):
/// one canonical form to sign and one bounded parser to read them.
enum SignedJSON {
    /// The canonical bytes that are signed: JSON with sorted keys, no extra spaces.
    static func canonicalBytes(of value: some Encodable, naming what: String) throws(FleetWireError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw FleetWireError(.invalidMetadata, "the \(what) cannot be written as JSON: \(error)")
        }
    }

    /// Parses a document of at most `maxBytes`, naming it in every error.
    static func decode<Document: Decodable>(
        _ type: Document.Type, from bytes: some Collection<UInt8>, maxBytes: Int, naming what: String
    ) throws(FleetWireError) -> Document {
        guard bytes.count <= maxBytes else {
            throw FleetWireError(.limitExceeded, "the \(what) is \(bytes.count) bytes, more than the limit of \(maxBytes)")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw FleetWireError(.invalidMetadata, "the \(what) is not valid: \(error)")
        }
    }
}
