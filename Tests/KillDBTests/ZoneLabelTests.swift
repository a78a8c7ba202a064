import Foundation
import Output
import Testing

/// How printed times name their zone.
@Suite("zone labels: UTC, or the offset and the abbreviation")
struct ZoneLabelTests {
    static let november = 1_795_546_950.0  // 2026-11-24T19:02:30Z
    static let july = 1_785_546_950.0

    @Test func utcIsJustUTC() {
        for id in ["UTC", "Etc/UTC", "GMT", "Universal"] {
            #expect(ZoneLabel.of(TimeZone(identifier: id)!, at: Self.november) == "UTC", "\(id)")
        }
    }

    @Test("the offset is signed as ISO 8601 does (east is +), never Foundation's GMT+9")
    func offsetsAreISO() {
        let tokyo = ZoneLabel.of(TimeZone(identifier: "Asia/Tokyo")!, at: Self.november)
        #expect(tokyo.hasPrefix("+09:00"), "\(tokyo)")
        #expect(!tokyo.contains("GMT"))
        #expect(ZoneLabel.of(TimeZone(identifier: "America/New_York")!, at: Self.november).hasPrefix("-05:00"))
        #expect(ZoneLabel.of(TimeZone(identifier: "America/New_York")!, at: Self.july).hasPrefix("-04:00"))
        #expect(ZoneLabel.of(TimeZone(identifier: "Asia/Kolkata")!, at: Self.november).hasPrefix("+05:30"))
        // London in winter is at offset 0 but is not UTC: its name says which it is.
        #expect(ZoneLabel.of(TimeZone(identifier: "Europe/London")!, at: Self.november).hasPrefix("+00:00"))
    }
}
