#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads delta metadata in exactly the form ``DeltaCodec`` writes it, and
/// gives up on anything else.
///
/// Foundation's `JSONDecoder` costs more than the rest of decoding a delta
/// (tens of microseconds for a few hundred bytes), and even building the
/// metrics dictionary costs as much as checking the checksum of a sparse
/// update — both would cap the coordinator far below memory speed. Our
/// encoder writes one canonical shape — keys sorted, no whitespace, strings
/// without escapes:
///
///     {"captures":1,"families":["ice"],"metrics":{"after":0.5},"samples":200}
///
/// This parser accepts only that shape, and only values whose meaning is
/// unambiguous: integers ≥ 0 without leading zeros that fit `Int`; numbers
/// with at most 200 integer digits and a one- or two-digit exponent (so
/// surely finite); strings of valid UTF-8 without escapes or control
/// characters; no repeated metric name. ``isCanonical(_:)`` checks that
/// without building anything (the scan of every upload), ``parse(_:)``
/// builds the value (on demand), ``families(_:)`` reads only the families
/// (what the aggregator needs). On anything else the caller falls back to
/// `JSONDecoder`, so what a delta means never depends on which path read it.
enum CanonicalMetadataParser {
    static func parse(_ bytes: UnsafeRawBufferPointer) -> DeltaMetadata? {
        var cursor = Cursor(bytes: bytes, build: true)
        var metadata = DeltaMetadata()
        guard cursor.take("{\"captures\":"), let captures = cursor.integer(),
              cursor.take(",\"families\":["), cursor.stringList(into: &metadata.families),
              cursor.take(",\"metrics\":{"), cursor.metrics(into: &metadata.metrics),
              cursor.take(",\"samples\":"), let samples = cursor.integer(),
              cursor.take("}"), cursor.atEnd
        else { return nil }
        metadata.captures = captures
        metadata.samples = samples
        return metadata
    }

    /// Whether `parse` would accept the bytes; builds no string, array or dictionary.
    static func isCanonical(_ bytes: UnsafeRawBufferPointer) -> Bool {
        canonicalFamilies(bytes) != nil
    }

    /// When `parse` would accept the bytes, the range of the family list's
    /// items (between its brackets); else nil. Checks in one pass and builds
    /// nothing, so the aggregator can count families straight from the bytes.
    static func canonicalFamilies(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var cursor = Cursor(bytes: bytes, build: false)
        var families: [String] = []
        var metrics: [String: Double] = [:]
        guard cursor.take("{\"captures\":"), cursor.integer() != nil, cursor.take(",\"families\":[") else { return nil }
        let listStart = cursor.offset
        guard cursor.stringList(into: &families) else { return nil }
        let listEnd = cursor.offset - 1
        guard cursor.take(",\"metrics\":{"), cursor.metrics(into: &metrics),
              cursor.take(",\"samples\":"), cursor.integer() != nil,
              cursor.take("}"), cursor.atEnd
        else { return nil }
        return listStart..<listEnd
    }

    /// The families of canonical metadata, reading nothing after them.
    static func families(_ bytes: UnsafeRawBufferPointer) -> [String]? {
        var cursor = Cursor(bytes: bytes, build: true)
        var families: [String] = []
        guard cursor.take("{\"captures\":"), cursor.integer() != nil,
              cursor.take(",\"families\":["), cursor.stringList(into: &families)
        else { return nil }
        return families
    }

    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        /// False: check the grammar and the values only.
        let build: Bool
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        @inline(__always)
        func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

        @inline(__always)
        mutating func take(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - offset >= count else { return false }
            // Byte by byte: the literals are a few bytes, shorter than a call to memcmp.
            let base = bytes.baseAddress! + offset
            let expected = literal.utf8Start
            for index in 0..<count where base.load(fromByteOffset: index, as: UInt8.self) != expected[index] { return false }
            offset += count
            return true
        }

        /// `0` or `[1-9][0-9]*` that fits `Int` (negative counts go to the full decoder, which names them).
        @inline(__always)
        mutating func integer() -> Int? {
            let start = offset
            let digits = skipDigits()
            guard digits > 0, digits <= 18, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
            if let next = peek(), next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
                return nil
            }
            var value = 0
            for index in start..<offset { value = value * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
            return value
        }

        /// A JSON number that is surely finite; its value when building, else 0.
        @inline(__always)
        mutating func number() -> Double? {
            let start = offset
            if peek() == UInt8(ascii: "-") { offset += 1 }
            let integerStart = offset
            let integerDigits = skipDigits()
            guard integerDigits > 0, integerDigits <= 200,
                  integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0")
            else { return nil }
            if peek() == UInt8(ascii: ".") {
                offset += 1
                guard skipDigits() > 0 else { return nil }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                offset += 1
                if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { offset += 1 }
                let exponentDigits = skipDigits()
                guard exponentDigits > 0, exponentDigits <= 2 else { return nil }
            }
            guard build else { return 0 }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else { return nil }
            return value
        }

        /// `"…"` of valid UTF-8 with no escape and no control character; "" when not building.
        @inline(__always)
        mutating func string() -> String? {
            guard take("\"") else { return nil }
            let start = offset
            let base = bytes.baseAddress!
            let end = bytes.count
            // Control characters and backslashes end the fast path; high bits mark non-ASCII.
            var flags: UInt8 = 0
            var cursor = offset
            // Eight bytes at a time while none is a quote, a backslash or a
            // control character (exact "any byte" tests on the word).
            var wide: UInt64 = 0
            while cursor + 8 <= end {
                let word = base.loadUnaligned(fromByteOffset: cursor, as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101, tops: UInt64 = 0x8080_8080_8080_8080
                let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
                let special = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word) & tops
                if special != 0 { break }
                wide |= word
                cursor += 8
            }
            if wide & 0x8080_8080_8080_8080 != 0 { flags = 0x80 }
            while cursor < end {
                let byte = base.load(fromByteOffset: cursor, as: UInt8.self)
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 || byte == UInt8(ascii: "\\") { return nil }
                flags |= byte
                cursor += 1
            }
            offset = cursor
            guard offset < end else { return nil }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<offset]).assumingMemoryBound(to: UInt8.self)
            offset += 1
            if flags < 0x80 {
                return build ? String(decoding: slice, as: UTF8.self) : ""
            }
            return String(validating: slice, as: UTF8.self)
        }

        /// The rest of `[ "a", "b" ]` after the opening bracket.
        mutating func stringList(into list: inout [String]) -> Bool {
            if take("]") { return true }
            repeat {
                guard let item = string() else { return false }
                if build { list.append(item) }
            } while take(",")
            return take("]")
        }

        /// The rest of `{ "name": number, … }` after the opening brace; false on a repeated name.
        mutating func metrics(into metrics: inout [String: Double]) -> Bool {
            if take("}") { return true }
            // Names seen so far, by their byte ranges, on the stack (no hashing, no strings).
            return withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: 64) { names in
                var seen = 0
                repeat {
                    let nameStart = offset + 1
                    guard let name = string() else { return false }
                    let nameRange = nameStart..<(offset - 1)
                    guard take(":"), let value = number() else { return false }
                    if build {
                        guard metrics.updateValue(value, forKey: name) == nil else { return false }
                    } else {
                        guard seen < names.count else { return false }
                        for other in 0..<seen where equalBytes(names[other], nameRange) { return false }
                        names[seen] = nameRange
                        seen += 1
                    }
                } while take(",")
                return take("}")
            }
        }

        private func equalBytes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
            guard a.count == b.count else { return false }
            for index in 0..<a.count where bytes[a.lowerBound + index] != bytes[b.lowerBound + index] { return false }
            return true
        }

        @inline(__always)
        private mutating func skipDigits() -> Int {
            let start = offset
            let base = bytes.baseAddress!
            while offset < bytes.count, base.load(fromByteOffset: offset, as: UInt8.self) &- UInt8(ascii: "0") < 10 { offset += 1 }
            return offset - start
        }
    }
}
