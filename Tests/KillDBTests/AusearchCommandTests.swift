import Foundation
import Output
import Testing

/// The command an answer's evidence line gives for the raw records.
@Suite("the ausearch command for an event's raw records")
struct AusearchCommandTests {
    static let utc = TimeZone(identifier: "UTC")!

    @Test func serialAndTheSecondInAusearchsForm() {
        #expect(AusearchCommand.forEvent(serial: 31499, time: 1_795_546_947.514, node: nil, zone: Self.utc, localZone: Self.utc)
            == "ausearch -a 31499 -ts 11/24/26 19:02:27 -te 11/24/26 19:02:28")
    }

    @Test("a zone other than ausearch's own is set for it; a node is named with -n")
    func zoneAndNode() {
        let tokyo = TimeZone(identifier: "Asia/Tokyo")!
        #expect(AusearchCommand.forEvent(serial: 7, time: 1_795_546_947, node: "web-1.example", zone: tokyo, localZone: Self.utc)
            == "TZ=Asia/Tokyo ausearch -a 7 -ts 11/25/26 04:02:27 -te 11/25/26 04:02:28 -n web-1.example")
    }

    @Test("a node name that is not plain is left out rather than pasted into a shell")
    func hostileNode() {
        let c = AusearchCommand.forEvent(serial: 7, time: 0, node: "x;rm -rf /", zone: Self.utc, localZone: Self.utc)
        #expect(!c.contains("rm"))
    }

    @Test("the real ausearch finds the event by that command", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/ausearch")))
    func ausearchAgrees() throws {
        let log = TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path
        // Event 1795604400.300:505 in the fixture.
        let command = AusearchCommand.forEvent(serial: 505, time: 1_795_604_400.3, node: nil, zone: Self.utc, localZone: Self.utc)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "TZ=UTC " + command + " -if '\(log)'"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.contains("msg=audit(1795604400.300:505)"), "\(command): \(text)")
        #expect(!text.contains(":504)") && !text.contains(":506)"))
    }
}
