/// Reads delta metadata in exactly the form ``DeltaCodec`` writes it, and
/// gives up on anything else.
///
/// Foundation's `JSONDecoder` costs more than the rest of decoding a delta
/// (tens of microseconds for a hundred bytes), which on the aggregation path
/// would cap the coordinator far below memory speed. Our encoder writes one
/// canonical shape — keys sorted, no whitespace, strings without escapes:
///
///     {"captures":1,"families":["ice"],"metrics":{"after":0.5},"samples":200}
///
/// This parser accepts only that shape, and only values whose meaning is
/// unambiguous (integers without leading zeros that fit `Int`, finite
/// numbers, strings of valid UTF-8 without escapes or control characters, no
/// repeated metric). Anything else returns nil and the caller falls back to
/// `JSONDecoder`, so what a delta means never depends on which path read it.
enum CanonicalMetadataParser {
    static func parse(_ bytes: UnsafeRawBufferPointer) -> DeltaMetadata? {
        var cursor = Cursor(bytes: bytes)
        guard cursor.take("{\"captures\":"), let captures = cursor.integer(),
              cursor.take(",\"families\":["), let families = cursor.stringList(),
              cursor.take(",\"metrics\":{"), let metrics = cursor.metrics(),
              cursor.take(",\"samples\":"), let samples = cursor.integer(),
              cursor.take("}"), cursor.atEnd
        else { return nil }
        return DeltaMetadata(families: families, samples: samples, captures: captures, metrics: metrics)
    }

    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func take(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - offset >= count else { return false }
            let matches = literal.withUTF8Buffer { expected in
                memoryEqual(expected, at: offset)
            }
            if matches { offset += count }
            return matches
        }

        private func memoryEqual(_ expected: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
            for index in 0..<expected.count where bytes[start + index] != expected[index] { return false }
            return true
        }

        /// `0` or `-?[1-9][0-9]*` that fits `Int`.
        mutating func integer() -> Int? {
            let start = offset
            if peek() == UInt8(ascii: "-") { offset += 1 }
            guard let first = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return nil }
            offset += 1
            if first != UInt8(ascii: "0") {
                while let digit = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) { offset += 1 }
            }
            if let next = peek(), next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
                return nil
            }
            return Int(text(from: start))
        }

        /// A JSON number that parses to a finite double.
        mutating func number() -> Double? {
            let start = offset
            if peek() == UInt8(ascii: "-") { offset += 1 }
            guard let first = peek(), isDigit(first) else { return nil }
            offset += 1
            if first != UInt8(ascii: "0") {
                while let digit = peek(), isDigit(digit) { offset += 1 }
            }
            if peek() == UInt8(ascii: ".") {
                offset += 1
                guard let digit = peek(), isDigit(digit) else { return nil }
                while let digit = peek(), isDigit(digit) { offset += 1 }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                offset += 1
                if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { offset += 1 }
                guard let digit = peek(), isDigit(digit) else { return nil }
                while let digit = peek(), isDigit(digit) { offset += 1 }
            }
            guard let value = Double(text(from: start)), value.isFinite else { return nil }
            return value
        }

        /// `"…"` of valid UTF-8 with no escape and no control character.
        mutating func string() -> String? {
            guard take("\"") else { return nil }
            let start = offset
            while let byte = peek(), byte != UInt8(ascii: "\"") {
                guard byte >= 0x20, byte != UInt8(ascii: "\\") else { return nil }
                offset += 1
            }
            guard peek() == UInt8(ascii: "\"") else { return nil }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<offset]).assumingMemoryBound(to: UInt8.self)
            offset += 1
            return String(validating: slice, as: UTF8.self)
        }

        /// The rest of `[ "a", "b" ]` after the opening bracket.
        mutating func stringList() -> [String]? {
            var list: [String] = []
            if take("]") { return list }
            repeat {
                guard let item = string() else { return nil }
                list.append(item)
            } while take(",")
            return take("]") ? list : nil
        }

        /// The rest of `{ "name": number, … }` after the opening brace; nil on a repeated name.
        mutating func metrics() -> [String: Double]? {
            var metrics: [String: Double] = [:]
            if take("}") { return metrics }
            repeat {
                guard let name = string(), take(":"), let value = number(),
                      metrics.updateValue(value, forKey: name) == nil
                else { return nil }
            } while take(",")
            return take("}") ? metrics : nil
        }

        private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

        private func text(from start: Int) -> Substring {
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
            return Substring(String(decoding: slice, as: UTF8.self))
        }
    }
}
