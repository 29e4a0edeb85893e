import Testing
@testable import SecureTransport

@Test func moduleBuilds() { #expect(Bool(true)) }
