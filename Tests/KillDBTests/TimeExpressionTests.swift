import Foundation
@testable import TimeArguments
import Testing

/// `--before`/`--after`/`--window` values as users type them. Every test pins `now` and the
/// time zone, so none depends on the machine's clock, zone or locale.
@Suite("time expressions")
struct TimeExpressionTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let kolkata = TimeZone(identifier: "Asia/Kolkata")!
    static let havana = TimeZone(identifier: "America/Havana")!

    /// 2026-11-24T19:02:30Z, a Tuesday.
    static let now = Date(timeIntervalSince1970: 1_795_546_950)

    /// Instant of an ISO 8601 UTC string, via a path independent of the parser under test.
    static func utcDate(_ s: String) -> Date {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)!
    }

    func parse(_ text: String, now: Date = Self.now, in zone: TimeZone = Self.utc,
               bootTime: Date? = nil, firstWeekday: Int? = 2) throws -> Date {
        try TimeExpression.parse(text, now: now, timeZone: zone, bootTime: bootTime, firstWeekday: firstWeekday)
    }

    func error(_ text: String, now: Date = Self.now, in zone: TimeZone = Self.utc) -> TimeExpressionError? {
        do {
            _ = try TimeExpression.parse(text, now: now, timeZone: zone)
            return nil
        } catch {
            return error
        }
    }

    // MARK: ISO 8601 and friends

    @Test func utcTimestampMeansThatInstant() throws {
        #expect(try parse("2026-11-24T19:02:30Z", in: Self.berlin) == Self.now)
    }

    @Test func fractionalSecondsAreKept() throws {
        let d = try parse("2026-11-24T19:02:30.123Z")
        #expect(abs(d.timeIntervalSince(Self.now) - 0.123) < 1e-6)
        let comma = try parse("2026-11-24T19:02:30,5Z")
        #expect(comma.timeIntervalSince(Self.now) == 0.5)
    }

    @Test(arguments: [
        ("2026-11-24T20:02:30+01:00", "colon offset"),
        ("2026-11-24T20:02:30+0100", "compact offset"),
        ("2026-11-24T20:02:30+01", "hour-only offset"),
        ("2026-11-24T14:02:30-05:00", "negative offset"),
        ("2026-11-25T00:32:30+05:30", "half-hour offset"),
        ("2026-11-24 20:02:30 +01:00", "space before offset"),
    ])
    func explicitOffsetWinsOverTheLocalZone(text: String, _: String) throws {
        #expect(try parse(text, in: Self.newYork) == Self.now)
    }

    @Test func lettersAreCaseInsensitive() throws {
        #expect(try parse("2026-11-24t19:02:30z") == Self.now)
    }

    @Test(arguments: [
        (TimeExpressionTests.utc, "2026-11-24T19:02:30Z"),
        (TimeExpressionTests.berlin, "2026-11-24T18:02:30Z"),
        (TimeExpressionTests.newYork, "2026-11-25T00:02:30Z"),
        (TimeExpressionTests.kolkata, "2026-11-24T13:32:30Z"),
    ])
    func timestampWithoutZoneIsLocalTime(zone: TimeZone, expected: String) throws {
        #expect(try parse("2026-11-24T19:02:30", in: zone) == Self.utcDate(expected))
        #expect(try parse("2026-11-24 19:02:30", in: zone) == Self.utcDate(expected))
    }

    @Test func secondsMayBeLeftOut() throws {
        #expect(try parse("2026-11-24 19:02", in: Self.berlin) == Self.utcDate("2026-11-24T18:02:00Z"))
        #expect(try parse("2026-11-24T19:02Z") == Self.utcDate("2026-11-24T19:02:00Z"))
    }

    @Test func extraSpacesBetweenDateAndTimeAreFine() throws {
        #expect(try parse("  2026-11-24   19:02:30  ", in: Self.berlin) == Self.utcDate("2026-11-24T18:02:30Z"))
    }

    @Test(arguments: [
        (TimeExpressionTests.utc, "2026-11-24T00:00:00Z"),
        (TimeExpressionTests.berlin, "2026-11-23T23:00:00Z"),
        (TimeExpressionTests.newYork, "2026-11-24T05:00:00Z"),
        (TimeExpressionTests.kolkata, "2026-11-23T18:30:00Z"),
    ])
    func dateAloneIsLocalMidnight(zone: TimeZone, expected: String) throws {
        #expect(try parse("2026-11-24", in: zone) == Self.utcDate(expected))
    }

    @Test func timeAloneIsTodayInTheLocalZone() throws {
        #expect(try parse("19:02", in: Self.berlin) == Self.utcDate("2026-11-24T18:02:00Z"))
        #expect(try parse("19:02:30", in: Self.newYork) == Self.utcDate("2026-11-25T00:02:30Z"))
        #expect(try parse("9:05") == Self.utcDate("2026-11-24T09:05:00Z"))
    }

    @Test func timeAloneUsesTheLocalDateEvenWhenUTCIsStillOnTheDayBefore() throws {
        // 20:00Z is already 01:30 on the 25th in Kolkata.
        let now = Self.utcDate("2026-11-24T20:00:00Z")
        #expect(try parse("19:02", now: now, in: Self.kolkata) == Self.utcDate("2026-11-25T13:32:00Z"))
    }

    @Test func timeAloneWithAnOffsetIsTodayInThatOffset() throws {
        let now = Self.utcDate("2026-11-24T20:00:00Z")
        #expect(try parse("01:00+05:30", now: now) == Self.utcDate("2026-11-24T19:30:00Z"))
        #expect(try parse("19:02z", now: now, in: Self.kolkata) == Self.utcDate("2026-11-24T19:02:00Z"))
    }

    // MARK: Epoch

    @Test func epochSecondsAreUTCWhateverTheZone() throws {
        #expect(try parse("@1795546950", in: Self.kolkata) == Self.now)
        #expect(try parse("@1795546950.5").timeIntervalSince1970 == 1_795_546_950.5)
        #expect(try parse("@0") == Date(timeIntervalSince1970: 0))
    }

    // MARK: Relative

    @Test(arguments: [
        ("-10m", -600.0), ("-2h", -7200), ("-90s", -90), ("-1d", -86_400), ("-1w", -604_800),
        ("-2h30m", -9000), ("10m ago", -600), ("2h ago", -7200), ("2 hours ago", -7200),
        ("30 minutes ago", -1800), ("1 day ago", -86_400), ("1 hour 30 minutes ago", -5400),
        ("+5m", 300), ("+1.5h", 5400), ("2 HOURS AGO", -7200),
    ])
    func relativeTimesCountFromNow(text: String, offset: TimeInterval) throws {
        #expect(try parse(text, in: Self.berlin) == Self.now.addingTimeInterval(offset))
    }

    @Test func aDayAgoIsElapsedTimeNotTheSameClockTimeAcrossDST() throws {
        // Berlin, 2026-03-30 12:00 CEST; 24 h earlier is 11:00 CET on the 29th.
        let now = Self.utcDate("2026-03-30T10:00:00Z")
        #expect(try parse("-1d", now: now, in: Self.berlin) == Self.utcDate("2026-03-29T10:00:00Z"))
    }

    // MARK: ausearch keywords

    @Test func nowAndRecent() throws {
        #expect(try parse("now") == Self.now)
        #expect(try parse("NOW") == Self.now)
        #expect(try parse("recent") == Self.now.addingTimeInterval(-600))
    }

    @Test(arguments: [
        (TimeExpressionTests.utc, "today", "2026-11-24T00:00:00Z"),
        (TimeExpressionTests.utc, "yesterday", "2026-11-23T00:00:00Z"),
        (TimeExpressionTests.utc, "week-ago", "2026-11-17T00:00:00Z"),
        (TimeExpressionTests.utc, "this-month", "2026-11-01T00:00:00Z"),
        (TimeExpressionTests.utc, "this-year", "2026-01-01T00:00:00Z"),
        (TimeExpressionTests.berlin, "today", "2026-11-23T23:00:00Z"),
        (TimeExpressionTests.berlin, "Yesterday", "2026-11-22T23:00:00Z"),
        (TimeExpressionTests.berlin, "this-month", "2026-10-31T23:00:00Z"),
        (TimeExpressionTests.berlin, "this-year", "2025-12-31T23:00:00Z"),
        (TimeExpressionTests.newYork, "today", "2026-11-24T05:00:00Z"),
        // Across the DST end on Nov 1: the 1st began in EDT (-04:00).
        (TimeExpressionTests.newYork, "this-month", "2026-11-01T04:00:00Z"),
        (TimeExpressionTests.newYork, "week-ago", "2026-11-17T05:00:00Z"),
        // 19:02:30Z is already 00:32:30 on the 25th in Kolkata.
        (TimeExpressionTests.kolkata, "today", "2026-11-24T18:30:00Z"),
        (TimeExpressionTests.kolkata, "yesterday", "2026-11-23T18:30:00Z"),
    ])
    func keywordsMeanLocalMidnights(zone: TimeZone, keyword: String, expected: String) throws {
        #expect(try parse(keyword, in: zone) == Self.utcDate(expected))
    }

    @Test func todayFollowsTheLocalDateNotUTC() throws {
        // 20:00Z on the 24th is already the 25th in Kolkata, still the 24th in New York.
        let now = Self.utcDate("2026-11-24T20:00:00Z")
        #expect(try parse("today", now: now, in: Self.kolkata) == Self.utcDate("2026-11-24T18:30:00Z"))
        #expect(try parse("today", now: now, in: Self.newYork) == Self.utcDate("2026-11-24T05:00:00Z"))
    }

    @Test func thisWeekStartsOnTheGivenFirstWeekday() throws {
        // now is Tuesday 2026-11-24.
        #expect(try parse("this-week", firstWeekday: 2) == Self.utcDate("2026-11-23T00:00:00Z"))
        #expect(try parse("this-week", firstWeekday: 1) == Self.utcDate("2026-11-22T00:00:00Z"))
        #expect(try parse("This-Week", in: Self.berlin, firstWeekday: 2) == Self.utcDate("2026-11-22T23:00:00Z"))
    }

    @Test func thisWeekOnItsFirstDayIsToday() throws {
        let monday = Self.utcDate("2026-11-23T08:00:00Z")
        #expect(try parse("this-week", now: monday, firstWeekday: 2) == Self.utcDate("2026-11-23T00:00:00Z"))
    }

    @Test func thisWeekReachesBackAcrossTheNewYear() throws {
        // Thursday 2026-01-01: the week began on Monday 2025-12-29.
        let newYear = Self.utcDate("2026-01-01T12:00:00Z")
        #expect(try parse("this-week", now: newYear, firstWeekday: 2) == Self.utcDate("2025-12-29T00:00:00Z"))
        #expect(try parse("yesterday", now: newYear) == Self.utcDate("2025-12-31T00:00:00Z"))
    }

    @Test func thisWeekWithoutAFirstWeekdayFollowsTheLocale() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.utc
        calendar.firstWeekday = Calendar.current.firstWeekday
        let expected = calendar.dateInterval(of: .weekOfYear, for: Self.now)!.start
        #expect(try parse("this-week", firstWeekday: nil) == expected)
    }

    @Test func bootIsTheGivenBootTime() throws {
        let boot = Self.utcDate("2026-11-20T08:00:00Z")
        #expect(try parse("boot", bootTime: boot) == boot)
        #expect(try parse("BOOT", bootTime: boot) == boot)
    }

    @Test func bootIsReadFromUptimeWhenNotGiven() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("uptime-\(UUID())")
        try "3600.25 7000.00\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let boot = try TimeExpression.bootTime(uptimeFile: file.path, clock: Self.now)
        #expect(boot == Self.now.addingTimeInterval(-3600.25))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/uptime")))
    func bootFromThisMachineIsInThePast() throws {
        let boot = try parse("boot", now: Date())
        #expect(boot < Date())
        #expect(boot > Date(timeIntervalSince1970: 1_000_000_000))
    }

    @Test func bootWithoutUptimeSaysSo() {
        #expect(throws: TimeExpressionError.self) {
            try TimeExpression.bootTime(uptimeFile: "/nonexistent/uptime")
        }
        do {
            _ = try TimeExpression.bootTime(uptimeFile: "/nonexistent/uptime")
        } catch {
            #expect(error.description.contains("cannot tell when the system booted"))
            #expect(error.description.contains("/nonexistent/uptime"))
        }
    }

    // MARK: DST

    @Test func todayOnTheDayDSTStartsIsMidnightBeforeTheJump() throws {
        // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST. Noon local is 10:00Z.
        let noon = Self.utcDate("2026-03-29T10:00:00Z")
        #expect(try parse("today", now: noon, in: Self.berlin) == Self.utcDate("2026-03-28T23:00:00Z"))
    }

    @Test func yesterdayAfterDSTStartsIsMidnightInWinterTime() throws {
        let noon = Self.utcDate("2026-03-30T10:00:00Z")
        #expect(try parse("yesterday", now: noon, in: Self.berlin) == Self.utcDate("2026-03-28T23:00:00Z"))
        #expect(try parse("today", now: noon, in: Self.berlin) == Self.utcDate("2026-03-29T22:00:00Z"))
    }

    @Test func todayOnTheDayDSTEndsIsMidnightInSummerTime() throws {
        // New York 2026-11-01: 02:00 EDT -> 01:00 EST. Noon EST is 17:00Z.
        let noon = Self.utcDate("2026-11-01T17:00:00Z")
        #expect(try parse("today", now: noon, in: Self.newYork) == Self.utcDate("2026-11-01T04:00:00Z"))
        #expect(try parse("yesterday", now: noon, in: Self.newYork) == Self.utcDate("2026-10-31T04:00:00Z"))
    }

    @Test func aDayWhoseMidnightWasSkippedStartsAtTheFirstRealInstant() throws {
        // Havana 2026-03-08: 00:00 CST -> 01:00 CDT, so the day starts at 01:00 CDT (05:00Z).
        let noon = Self.utcDate("2026-03-08T16:00:00Z")
        #expect(try parse("today", now: noon, in: Self.havana) == Self.utcDate("2026-03-08T05:00:00Z"))
        #expect(try parse("2026-03-08", in: Self.havana) == Self.utcDate("2026-03-08T05:00:00Z"))
    }

    @Test func localTimeSkippedByDSTIsRejectedWithAnOffsetToUse() throws {
        let e = try #require(error("2026-03-29 02:30", in: Self.berlin))
        #expect(e.problem == .nonexistentLocalTime(timeZone: "Europe/Berlin", suggestion: "2026-03-29T02:30+01:00"))
        #expect(e.description.contains("never happened in Europe/Berlin"))
        #expect(e.description.contains("2026-03-29T02:30+01:00"))
        // The suggestion itself parses.
        #expect(try parse("2026-03-29T02:30+01:00") == Self.utcDate("2026-03-29T01:30:00Z"))
    }

    @Test func timeAloneSkippedByDSTTodayIsRejectedToo() throws {
        let noon = Self.utcDate("2026-03-08T17:00:00Z")
        let e = try #require(error("02:15:30", now: noon, in: Self.newYork))
        #expect(e.problem == .nonexistentLocalTime(timeZone: "America/New_York", suggestion: "2026-03-08T02:15:30-05:00"))
    }

    @Test func timesJustAroundTheDSTGapAreFine() throws {
        #expect(try parse("2026-03-29 01:59:59", in: Self.berlin) == Self.utcDate("2026-03-29T00:59:59Z"))
        #expect(try parse("2026-03-29 03:00", in: Self.berlin) == Self.utcDate("2026-03-29T01:00:00Z"))
    }

    @Test func repeatedLocalTimeMeansItsFirstOccurrence() throws {
        // Berlin 2026-10-25: 03:00 CEST -> 02:00 CET, so 02:30 happens at 00:30Z and 01:30Z.
        #expect(try parse("2026-10-25 02:30", in: Self.berlin) == Self.utcDate("2026-10-25T00:30:00Z"))
        #expect(try parse("2026-10-25 02:30+01:00") == Self.utcDate("2026-10-25T01:30:00Z"))
        // New York 2026-11-01: 01:30 happens in EDT (05:30Z) and then in EST (06:30Z).
        #expect(try parse("2026-11-01 01:30", in: Self.newYork) == Self.utcDate("2026-11-01T05:30:00Z"))
    }

    @Test func halfHourZoneHasNoSurprises() throws {
        #expect(try parse("2026-11-24 00:00", in: Self.kolkata) == Self.utcDate("2026-11-23T18:30:00Z"))
    }

    // MARK: Errors

    @Test func unreadableTimeListsTheAcceptedForms() throws {
        let e = try #require(error("yesterdy"))
        #expect(e == TimeExpressionError(input: "yesterdy", kind: .time, problem: .unrecognized))
        #expect(e.description == #"cannot read "yesterdy" as a time. Accepted: 2026-11-24T19:02:30Z, 2026-11-24T19:02:30+01:00, 2026-11-24T19:02:30 (local), "2026-11-24 19:02:30 UTC", 2026-11-24, 19:02 (today), "11/24/26 19:02:35" (ausearch), "yesterday 19:00", @1795546950, -10m / 2h ago, now, recent (10 minutes ago), today, yesterday, tomorrow, this-week, week-ago, this-month, this-year, boot"#)
    }

    @Test(arguments: [
        "yesterdy", "-10x", "@abc", "@", "@-5", "@1.2.3", "10 ago", "-600", "1 month ago", "-10m ago",
        "2026", "2026-11", "2026-1-05", "2026-11-24T", "2026-11-24T19", "2026-11-24x19:02",
        "19:2", "19:02:3", "19:02:30.", "2026-11-24T19:02:30+1", "2026-11-24T19:02:30utc",
        "today at noon", "12345", "ñow", "11/24", "11/24/126", "11-24-26", "1/2/3/4", "yesterday noon",
        "tomorrow 19", "19:02:30 11/24", "2026-11-24T19:02:30Z 5",
    ])
    func unreadableInputIsRejected(text: String) throws {
        let e = try #require(error(text))
        #expect(e.problem == .unrecognized)
        #expect(e.description.contains("Accepted: 2026-11-24T19:02:30Z"))
    }

    @Test(arguments: ["", "   ", "\t\n"])
    func emptyInputIsRejected(text: String) throws {
        let e = try #require(error(text))
        #expect(e.problem == .empty)
        #expect(e.description.contains("it is empty"))
        #expect(e.description.contains("Accepted:"))
    }

    @Test(arguments: [
        ("2026-13-01", "month 13 is out of range (1-12)"),
        ("2026-00-10", "month 0 is out of range (1-12)"),
        ("2026-02-29", "day 29 is out of range (1-28)"),
        ("2026-04-31", "day 31 is out of range (1-30)"),
        ("25:00", "hour 25 is out of range (0-23)"),
        ("24:00", "hour 24 is out of range (0-23)"),
        ("12:60", "minute 60 is out of range (0-59)"),
        ("2026-11-24T19:02:60Z", "second 60 is out of range (0-59)"),
        ("2026-11-24T19:02:30+24:00", "offset hour 24 is out of range (0-23)"),
        ("2026-11-24T19:02:30+01:75", "offset minute 75 is out of range (0-59)"),
    ])
    func outOfRangeFieldIsNamed(text: String, message: String) throws {
        let e = try #require(error(text))
        #expect(e.description.contains(message))
        #expect(e.description.contains("Accepted:"))
    }

    @Test func leapDayInALeapYearIsFine() throws {
        #expect(try parse("2028-02-29") == Self.utcDate("2028-02-29T00:00:00Z"))
    }

    @Test(arguments: ["@99999999999999", "-99999999w", "+99999999999999999999s"])
    func absurdlyDistantTimesAreRejected(text: String) throws {
        let e = try #require(error(text))
        #expect(e.problem == .tooFar)
        #expect(e.description.contains("outside the years 0001-9999"))
    }

    @Test func controlCharactersInInputAreEscapedInTheMessage() throws {
        let e = try #require(error("\u{1B}[31mred"))
        #expect(!e.description.contains("\u{1B}"))
        #expect(e.description.contains(#""\u{1b}[31mred""#))
    }

    @Test func veryLongInputIsShortenedInTheMessage() throws {
        let e = try #require(error(String(repeating: "x", count: 500)))
        #expect(e.description.contains(String(repeating: "x", count: 80) + "…\""))
        #expect(!e.description.contains(String(repeating: "x", count: 81)))
    }

    // MARK: Durations

    @Test(arguments: [
        ("90s", 90.0), ("10m", 600), ("1h", 3600), ("2h30m", 9000), ("2h 30m", 9000), ("1d", 86_400),
        ("1w", 604_800), ("600", 600), ("2 hours", 7200), ("30 minutes", 1800), ("1.5h", 5400),
        ("1H30M", 5400), ("0", 0), (" 45 sec ", 45), ("1d2h3m4s", 93_784),
    ])
    func windowDurationsAreReadAsSeconds(text: String, seconds: TimeInterval) throws {
        #expect(try TimeExpression.duration(text) == seconds)
    }

    @Test(arguments: ["", "10x", "-5m", "+5m", "abc", "1h30", "h", "1.2.3s", "10m ago", "1 month", "5 m s"])
    func unreadableDurationListsTheAcceptedForms(text: String) throws {
        #expect(throws: TimeExpressionError.self) { try TimeExpression.duration(text) }
        do {
            _ = try TimeExpression.duration(text)
        } catch {
            #expect(error.kind == .duration)
            #expect(error.description.hasPrefix("cannot read \"\(text)\" as a duration"))
            #expect(error.description.contains("Accepted: 90s, 10m, 1h, 2h30m, 1d, 1w"))
        }
    }

    @Test func absurdlyLongDurationIsRejected() throws {
        do {
            _ = try TimeExpression.duration("99999999999w")
            Issue.record("expected an error")
        } catch {
            #expect(error.problem == .tooFar)
            #expect(error.description.contains("longer than 10,000 years"))
        }
    }

    // MARK: What killdb prints, and what ausearch and journalctl take

    @Test(arguments: [
        "2026-11-24 19:02:30.000 UTC", "2026-11-24 19:02:30 UTC", "2026-11-24T19:02:30.000Z",
        "2026-11-24 20:02:30.000 +01:00 CET", "2026-11-25 04:02:30.000 +09:00 JST",
        "2026-11-25 04:02:30 +09:00", "2026-11-24 19:02:30 GMT", "2026-11-24 19:02:30Z",
    ])
    func killdbsOwnPrintedTimesReadBack(text: String) throws {
        // Read in another zone: the printed zone, not the reader's, decides.
        #expect(try parse(text, in: Self.newYork) == Self.now)
    }

    @Test func aZoneAbbreviationAloneNamesThatZone() throws {
        #expect(try parse("2026-11-25 04:02:30 JST") == Self.now)
        // The local zone's own name: its offset on that date (EST in November).
        #expect(try parse("2026-11-24 14:02:30 EST", in: Self.newYork) == Self.now)
    }

    @Test func anUnknownZoneNameIsRefusedByName() throws {
        let e = try #require(error("2026-11-24 19:02:30 XYZ"))
        #expect(e.problem == .unknownZone("XYZ"))
        #expect(e.description.contains("no time zone is called \"XYZ\""))
        #expect(error("2026-11-24T19:02:30Z junk")?.problem == .unknownZone("JUNK"))
    }

    @Test(arguments: [
        ("11/24/26 19:02:30", "2026-11-24T19:02:30Z"),
        ("11/24/2026 19:02:30", "2026-11-24T19:02:30Z"),
        ("19:02:30 11/24/26", "2026-11-24T19:02:30Z"),
        ("11/24/26", "2026-11-24T00:00:00Z"),
        ("1/5/27", "2027-01-05T00:00:00Z"),
        ("12/31/69", "1969-12-31T00:00:00Z"),
        ("01/01/68 00:00", "2068-01-01T00:00:00Z"),
        ("11/24/26 19:02", "2026-11-24T19:02:00Z"),
    ])
    func ausearchDatesAreMonthFirst(text: String, expected: String) throws {
        #expect(try parse(text) == Self.utcDate(expected))
    }

    @Test func ausearchDatesAreLocalTime() throws {
        #expect(try parse("11/24/26 20:02:30", in: Self.berlin) == Self.now)
    }

    @Test func ausearchDateOutOfRangeIsNamed() throws {
        #expect(error("13/01/26")?.description.contains("month 13 is out of range") == true)
        #expect(error("02/30/26")?.description.contains("day 30 is out of range (1-28)") == true)
    }

    @Test(arguments: [
        ("yesterday 19:00", "2026-11-23T19:00:00Z"),
        ("today 08:00", "2026-11-24T08:00:00Z"),
        ("tomorrow", "2026-11-25T00:00:00Z"),
        ("tomorrow 08:00:30", "2026-11-25T08:00:30Z"),
        ("Yesterday  19:00 UTC", "2026-11-23T19:00:00Z"),
    ])
    func journalctlDayWordsTakeATime(text: String, expected: String) throws {
        #expect(try parse(text) == Self.utcDate(expected))
    }

    @Test func journalctlDayWordsAreLocalDays() throws {
        // 19:02:30Z is 14:02:30 in New York: yesterday there began 2026-11-23 05:00Z.
        #expect(try parse("yesterday 00:00", in: Self.newYork) == Self.utcDate("2026-11-23T05:00:00Z"))
    }

    @Test func aRepeatedLocalTimeNamedByAnAbbreviationItCannotCheckIsRefused() throws {
        // New York 2026-11-01: 01:30 happens as EDT (05:30Z) and again as EST (06:30Z).
        // Foundation cannot tell which name is which outside the process's own zone.
        let now = Self.utcDate("2026-11-02T12:00:00Z")
        let e = try #require(error("2026-11-01 01:30 EST", now: now, in: Self.newYork))
        #expect(e.problem == .ambiguousLocalTime(timeZone: "America/New_York", offsets: ["-04:00", "-05:00"]))
        #expect(e.description.contains("Give the offset instead: -04:00 or -05:00"))
        #expect(try parse("2026-11-01 01:30 -05:00 EST", now: now, in: Self.newYork) == Self.utcDate("2026-11-01T06:30:00Z"))
    }

    // MARK: ausearch's date and time as two arguments

    @Test func aDateAndATimeAfterATimeOptionBecomeOneArgument() {
        let options: Set<String> = ["--before", "--after"]
        #expect(TimeExpression.joiningSplitTimes(["who", "--after", "11/24/26", "19:02:35", "4242"], timeOptions: options)
            == ["who", "--after", "11/24/26 19:02:35", "4242"])
        #expect(TimeExpression.joiningSplitTimes(["--before", "yesterday", "19:00"], timeOptions: options)
            == ["--before", "yesterday 19:00"])
        #expect(TimeExpression.joiningSplitTimes(["--before", "19:00", "2026-11-24"], timeOptions: options)
            == ["--before", "19:00 2026-11-24"])
    }

    @Test func otherArgumentsAreLeftAlone() {
        let options: Set<String> = ["--before"]
        // A time alone is a whole argument; a target after it stays the target.
        #expect(TimeExpression.joiningSplitTimes(["--before", "19:00", "4242"], timeOptions: options)
            == ["--before", "19:00", "4242"])
        #expect(TimeExpression.joiningSplitTimes(["--limit", "11/24/26", "19:00"], timeOptions: options)
            == ["--limit", "11/24/26", "19:00"])
        #expect(TimeExpression.joiningSplitTimes(["--", "--before", "11/24/26", "19:00"], timeOptions: options)
            == ["--", "--before", "11/24/26", "19:00"])
    }
}
