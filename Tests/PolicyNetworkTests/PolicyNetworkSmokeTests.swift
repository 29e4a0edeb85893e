import Testing
@testable import PolicyNetwork

@Test func moduleBuilds() { #expect(Bool(true)) }
