import Testing
@testable import DrivingSimulator

@Test func moduleBuilds() { #expect(Bool(true)) }
