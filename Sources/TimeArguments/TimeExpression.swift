import AuditDecoding
import Foundation

/// A point in time as users write it on the command line (`--before`, `--after`), and the
/// durations of `--window`.
///
/// Every time killdb prints is accepted back (`2026-11-24 19:02:27.514 UTC`,
/// `2026-11-24 04:02:27.514 +09:00 JST`, `2026-11-24T19:02:27.514Z`), and so are the forms
/// operators type into ausearch (`11/24/26 19:02:35`, its keywords) and journalctl
/// (`yesterday 19:00`, `tomorrow`, `-10m`, `@EPOCH`).
///
/// Choices worth knowing:
/// - Keywords, units, `T` and `Z` are case-insensitive; surrounding whitespace is ignored.
/// - A local time that never happened (the hour skipped when DST starts, e.g. 2026-03-29 02:30
///   in Europe/Berlin) is rejected with an error that suggests writing an offset, as GNU `date`
///   does: for a forensic question a silently shifted bound is worse than a clear refusal.
/// - A local time that happens twice (DST ends, e.g. 2026-10-25 02:30 in Europe/Berlin) means
///   its first occurrence (the DST one); write an offset (`+01:00`) for the second.
/// - Midnights (`today`, `yesterday`, `this-week`, ..., a date alone) are the start of that
///   calendar day in `timeZone`; where midnight itself was skipped by DST (America/Havana) the day
///   starts at the first instant that exists.
/// - `this-week` starts on the locale's first weekday (`Calendar.current.firstWeekday`), as
///   `man ausearch` says; pass `firstWeekday` to pin it. (ausearch's code actually always uses
///   Sunday.)
/// - Relative offsets are elapsed time: `-1d` is exactly 86,400 s ago, not "same clock time
///   yesterday"; `m` is minutes, never months.
/// - A time alone (`19:02`) is today in `timeZone`, even if that is still ahead of `now`.
/// - ausearch's dates are month first (`11/24/26`, what its `%x` gives in the C and en_US
///   locales); a two-digit year is 1969-2068, as strptime's `%y`. Date and time may come in
///   either order (`19:02:35 11/24/26`).
/// - A zone abbreviation after the time (`UTC`, `JST`) is used only when no offset is given:
///   killdb prints both (`+09:00 JST`), and the offset is exact while abbreviations are not
///   (IST is India, Israel and Ireland). An abbreviation alone is the local zone's if it
///   matches, else the one Foundation knows it by.
/// - `boot` is the wall clock now minus /proc/uptime, not the injected `now` minus uptime, since
///   uptime is measured against the real clock.
public struct TimeExpression: Sendable {
    /// The forms `parse` accepts, as listed in its errors.
    public static let acceptedForms = #"2026-11-24T19:02:30Z, 2026-11-24T19:02:30+01:00, 2026-11-24T19:02:30 (local), "2026-11-24 19:02:30 UTC", 2026-11-24, 19:02 (today), "11/24/26 19:02:35" (ausearch), "yesterday 19:00", @1795546950, -10m / 2h ago, now, recent (10 minutes ago), today, yesterday, tomorrow, this-week, week-ago, this-month, this-year, boot"#

    /// The forms `duration` accepts, as listed in its errors.
    public static let acceptedDurations = #"90s, 10m, 1h, 2h30m, 1d, 1w, "2 hours", 600 (seconds)"#

    /// Parses `text` relative to `now`, in `timeZone` (local time unless the text carries a zone).
    /// `firstWeekday` (1 = Sunday ... 7 = Saturday) fixes where `this-week` starts; nil means the
    /// locale's.
    public static func parse(
        _ text: String, now: Date, timeZone: TimeZone = .current, bootTime: Date? = nil,
        firstWeekday: Int? = nil
    ) throws(TimeExpressionError) -> Date {
        let s = normalize(text)
        let fail = { (problem: TimeExpressionError.Problem) in
            TimeExpressionError(input: text, kind: .time, problem: problem)
        }
        guard !s.isEmpty else { throw fail(.empty) }

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        if let firstWeekday, (1...7).contains(firstWeekday) {
            calendar.firstWeekday = firstWeekday
        } else {
            calendar.firstWeekday = Calendar.current.firstWeekday
        }
        let today = calendar.dateComponents([.year, .month, .day, .weekday], from: now)
        let todayDays = daysFromCivil(today.year ?? 1970, today.month ?? 1, today.day ?? 1)

        let result: Date
        switch s {
        case "now": result = now
        case "recent": result = now.addingTimeInterval(-600)
        case "today": result = calendar.startOfDay(for: now)
        case "yesterday": result = try startOfDay(days: todayDays - 1, calendar).orThrow(fail)
        case "tomorrow": result = try startOfDay(days: todayDays + 1, calendar).orThrow(fail)
        case "week-ago": result = try startOfDay(days: todayDays - 7, calendar).orThrow(fail)
        case "this-week":
            let back = ((today.weekday ?? 1) - calendar.firstWeekday + 7) % 7
            result = try startOfDay(days: todayDays - back, calendar).orThrow(fail)
        case "this-month":
            let first = daysFromCivil(today.year ?? 1970, today.month ?? 1, 1)
            result = try startOfDay(days: first, calendar).orThrow(fail)
        case "this-year":
            result = try startOfDay(days: daysFromCivil(today.year ?? 1970, 1, 1), calendar).orThrow(fail)
        case "boot":
            if let bootTime {
                result = bootTime
            } else {
                do { result = try Self.bootTime() } catch { throw fail(error.problem) }
            }
        default:
            if s.hasPrefix("@") {
                guard let epoch = decimal(s.dropFirst()) else { throw fail(.unrecognized) }
                result = Date(timeIntervalSince1970: epoch)
            } else if let sign = s.first, sign == "-" || sign == "+" {
                guard let span = seconds(of: s.dropFirst(), allowBareNumber: false) else {
                    throw fail(.unrecognized)
                }
                result = now.addingTimeInterval(sign == "-" ? -span : span)
            } else if s.hasSuffix(" ago") {
                guard let span = seconds(of: s.dropLast(4), allowBareNumber: false) else {
                    throw fail(.unrecognized)
                }
                result = now.addingTimeInterval(-span)
            } else {
                let date: Date?
                do {
                    date = try wallClock(try isoWords(s, todayDays: todayDays), now: now, todayDays: todayDays,
                                         calendar: calendar)
                } catch {
                    throw fail(error.problem)
                }
                guard let date else { throw fail(.unrecognized) }
                result = date
            }
        }
        let t = result.timeIntervalSince1970
        // Years 0001-9999: beyond that the input is a typo, and Date arithmetic loses meaning.
        guard t.isFinite, t >= -62_135_596_800, t < 253_402_300_800 else { throw fail(.tooFar) }
        return result
    }

    /// Durations for --window: "90s", "10m", "1h", "2h30m", "1d", "1w", plain seconds "600".
    public static func duration(_ text: String) throws(TimeExpressionError) -> TimeInterval {
        let s = normalize(text)
        let fail = { (problem: TimeExpressionError.Problem) in
            TimeExpressionError(input: text, kind: .duration, problem: problem)
        }
        guard !s.isEmpty else { throw fail(.empty) }
        guard let span = seconds(of: Substring(s), allowBareNumber: true) else { throw fail(.unrecognized) }
        guard span.isFinite, span < 10_000 * 366 * 86_400 else { throw fail(.tooFar) }
        return span
    }

    /// The wall clock now minus /proc/uptime (CLOCK_BOOTTIME, so it counts suspend as audit does).
    static func bootTime(uptimeFile: String = "/proc/uptime", clock: Date = Date()) throws(TimeExpressionError) -> Date {
        let text: String
        do {
            text = try String(contentsOfFile: uptimeFile, encoding: .utf8)
        } catch {
            throw TimeExpressionError(input: "boot", kind: .time,
                                      problem: .bootTimeUnavailable("cannot read \(uptimeFile)"))
        }
        guard let first = text.split(separator: " ").first, let uptime = Double(first), uptime.isFinite,
              uptime >= 0 else {
            throw TimeExpressionError(input: "boot", kind: .time,
                                      problem: .bootTimeUnavailable("\(uptimeFile) does not start with the uptime"))
        }
        return clock.addingTimeInterval(-uptime)
    }

    // MARK: Pieces

    /// Lowercased, trimmed, inner whitespace runs made one space, so "2  hours AGO" reads like "2 hours ago".
    static func normalize(_ text: String) -> String {
        text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Digits with an optional fraction ("1764010950.5"); nothing else, not even a sign.
    static func decimal(_ s: Substring) -> Double? {
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        return Double(s)
    }

    static let unitSeconds: [String: Double] = [
        "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
        "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
        "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
        "d": 86_400, "day": 86_400, "days": 86_400,
        "w": 604_800, "wk": 604_800, "wks": 604_800, "week": 604_800, "weeks": 604_800,
    ]

    /// "2h30m", "2 hours 30 minutes", "1.5h"; a bare number (seconds) only where allowed, since
    /// "-600" as a time is more likely a mistake than "600 seconds ago".
    static func seconds(of s: Substring, allowBareNumber: Bool) -> Double? {
        if allowBareNumber, let bare = decimal(s) { return bare }
        var rest = s.drop { $0 == " " }
        var total = 0.0
        var terms = 0
        while !rest.isEmpty {
            let number = rest.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
            rest = rest.dropFirst(number.count).drop { $0 == " " }
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count).drop { $0 == " " }
            guard let n = decimal(number), let perUnit = unitSeconds[String(unit)] else { return nil }
            total += n * perUnit
            terms += 1
        }
        return terms > 0 ? total : nil
    }

    /// Start of the civil day `days` (since 1970-01-01) in the calendar's zone. From noon, because
    /// noon exists on every day while midnight may not (DST at 00:00, e.g. America/Havana).
    static func startOfDay(days: Int, _ calendar: Calendar) -> Result<Date, TimeExpressionError.Problem> {
        let (y, m, d) = civilFromDays(days)
        guard let noon = calendar.date(from: DateComponents(year: y, month: m, day: d, hour: 12)) else {
            return .failure(.tooFar)
        }
        return .success(calendar.startOfDay(for: noon))
    }

    /// ISO 8601-like dates and times; nil when `s` does not start like one, so the caller can
    /// report the general list of forms.
    static func wallClock(_ s: String, now: Date, todayDays: Int, calendar: Calendar) throws(ProblemBox) -> Date? {
        var scan = Scanner(s)
        var days: Int
        var hasDate = false
        if let y = scan.number(digits: 4...4), scan.take("-") {
            guard let m = scan.number(digits: 2...2), scan.take("-"), let d = scan.number(digits: 2...2) else {
                throw ProblemBox(.unrecognized)
            }
            try check("month", m, 1...12)
            try check("day", d, 1...daysInMonth(y, m))
            days = daysFromCivil(y, m, d)
            hasDate = true
            if scan.atEnd {
                return try startOfDay(days: days, calendar).orThrow { ProblemBox($0) }
            }
            guard scan.take("t") || scan.take(" ") else { throw ProblemBox(.unrecognized) }
        } else {
            scan = Scanner(s)
            days = todayDays
        }

        guard let hour = scan.number(digits: 1...2), scan.take(":") else {
            if hasDate { throw ProblemBox(.unrecognized) }
            return nil
        }
        guard let minute = scan.number(digits: 2...2) else { throw ProblemBox(.unrecognized) }
        var second = 0
        var fraction = 0.0
        if scan.take(":") {
            guard let sec = scan.number(digits: 2...2) else { throw ProblemBox(.unrecognized) }
            second = sec
            if scan.take(".") || scan.take(",") {
                let digits = scan.digits()
                guard !digits.isEmpty, let f = Double("0." + digits) else { throw ProblemBox(.unrecognized) }
                fraction = f
            }
        }
        try check("hour", hour, 0...23)
        try check("minute", minute, 0...59)
        try check("second", second, 0...59)

        _ = scan.take(" ")
        var offset: Int?
        if scan.take("z") {
            offset = 0
        } else if let sign = scan.peek, sign == "+" || sign == "-" {
            _ = scan.take(sign)
            guard let oh = scan.number(digits: 2...2) else { throw ProblemBox(.unrecognized) }
            var om = 0
            if scan.take(":") {
                guard let m = scan.number(digits: 2...2) else { throw ProblemBox(.unrecognized) }
                om = m
            } else if let m = scan.number(digits: 2...2) {
                om = m
            }
            try check("offset hour", oh, 0...23)
            try check("offset minute", om, 0...59)
            offset = (sign == "-" ? -1 : 1) * (oh * 3600 + om * 60)
        }
        // A zone's name, as killdb prints after the time: `UTC`, `+09:00 JST`, `CET`.
        var zoneName: String?
        if !scan.atEnd {
            let spaced = scan.take(" ") || (scan.index > 0 && scan.bytes[scan.index - 1] == UInt8(ascii: " "))
            let name = scan.letters()
            guard spaced, !name.isEmpty else { throw ProblemBox(.unrecognized) }
            zoneName = name
        }
        guard scan.atEnd else { throw ProblemBox(.unrecognized) }
        if let zoneName {
            if ["utc", "gmt", "ut", "z"].contains(zoneName) {
                offset = offset ?? 0
            } else if offset != nil, TimeZone(abbreviation: zoneName.uppercased()) == nil,
                      !namesItself(calendar.timeZone, zoneName.uppercased(), near: days * 86_400) {
                throw ProblemBox(.unknownZone(zoneName.uppercased()))
            }
        }

        let clock = hour * 3600 + minute * 60 + second
        if let offset {
            // A time alone with an offset is today in that offset, not in `timeZone`.
            if !hasDate {
                let dayThere = ((now.timeIntervalSince1970 + Double(offset)) / 86_400).rounded(.down)
                guard let d = Int(exactly: dayThere) else { throw ProblemBox(.tooFar) }
                days = d
            }
            let naive = days * 86_400 + clock
            return Date(timeIntervalSince1970: Double(naive - offset) + fraction)
        }
        let naive = days * 86_400 + clock
        var zone = calendar.timeZone
        var abbreviation: String?
        if let zoneName, offset == nil {
            let name = zoneName.uppercased()
            abbreviation = name
            if !namesItself(zone, name, near: naive) {
                guard let named = TimeZone(abbreviation: name) else { throw ProblemBox(.unknownZone(name)) }
                zone = named
            }
        }
        switch resolve(naive: naive, in: zone, abbreviation: abbreviation) {
        case .instant(let t):
            return Date(timeIntervalSince1970: Double(t) + fraction)
        case .skipped(let before, _):
            let (y, m, d) = civilFromDays(days)
            var suggestion = String(format: "%04d-%02d-%02dT%02d:%02d", y, m, d, hour, minute)
            if second != 0 || fraction != 0 { suggestion += String(format: ":%02d", second) }
            suggestion += formatOffset(before)
            throw ProblemBox(.nonexistentLocalTime(timeZone: zone.identifier, suggestion: suggestion))
        case .ambiguous(let offsets):
            throw ProblemBox(.ambiguousLocalTime(timeZone: zone.identifier, offsets: offsets.map(formatOffset)))
        }
    }

    /// Whether `name` is what `zone` is called around the wall clock `naive`.
    static func namesItself(_ zone: TimeZone, _ name: String, near naive: Int) -> Bool {
        [naive - 86_400, naive, naive + 86_400].contains { abbreviation(of: zone, at: $0) == name }
    }

    /// The zone's abbreviation at `t` (`JST`, `CEST`), uppercased; nil when unknown.
    /// Foundation on Linux knows none (it says `GMT+9`); the C library reads them from the
    /// tz database, but only for the process's own zone (TZ).
    static func abbreviation(of zone: TimeZone, at t: Int) -> String? {
        if zone.identifier == TimeZone.current.identifier {
            var seconds = time_t(t)
            var parts = tm()
            if localtime_r(&seconds, &parts) != nil, let name = parts.tm_zone {
                let s = String(cString: name)
                if s.first?.isLetter == true { return s.uppercased() }
            }
        }
        guard let name = zone.abbreviation(for: Date(timeIntervalSince1970: Double(t))),
              !(name.hasPrefix("GMT") && name.count > 3) else { return nil }
        return name.uppercased()
    }

    /// journalctl's `yesterday 19:00` and ausearch's `11/24/26 19:02:35` (or `19:02:35 11/24/26`)
    /// rewritten in the ISO order `wallClock` reads; anything else is returned as it is.
    static func isoWords(_ s: String, todayDays: Int) throws(ProblemBox) -> String {
        var words = s.split(separator: " ").map(String.init)
        guard !words.isEmpty else { return s }
        if words.count >= 2, let shift = ["yesterday": -1, "today": 0, "tomorrow": 1][words[0]] {
            words[0] = isoDate(todayDays + shift)
        }
        for i in words.indices where words[i].contains("/") {
            guard let days = try usDate(words[i]) else { throw ProblemBox(.unrecognized) }
            words[i] = isoDate(days)
        }
        if words.count >= 2, words[0].contains(":"), !words[0].contains("-"), isISODate(words[1]) {
            words.swapAt(0, 1)
        }
        return words.joined(separator: " ")
    }

    static func isoDate(_ days: Int) -> String {
        let (y, m, d) = civilFromDays(days)
        return String(format: "%04d-%02d-%02d", y, m, d)
    }

    static func isISODate(_ w: String) -> Bool {
        let b = Array(w.utf8)
        return b.count == 10 && b[4] == UInt8(ascii: "-") && b[7] == UInt8(ascii: "-")
            && b.enumerated().allSatisfy { $0.offset == 4 || $0.offset == 7 || (48...57).contains($0.element) }
    }

    /// `MM/DD/YY` or `MM/DD/YYYY` as days since 1970; nil when it is not that shape.
    static func usDate(_ w: String) throws(ProblemBox) -> Int? {
        let parts = w.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              (1...2).contains(parts[0].count), (1...2).contains(parts[1].count), [2, 4].contains(parts[2].count),
              let m = Int(parts[0]), let d = Int(parts[1]), var y = Int(parts[2]) else { return nil }
        if parts[2].count == 2 { y += y < 69 ? 2000 : 1900 }
        try check("month", m, 1...12)
        try check("day", d, 1...daysInMonth(y, m))
        return daysFromCivil(y, m, d)
    }

    /// ausearch takes a date and a time as two arguments (`-ts 11/24/26 19:02:35`); so does
    /// killdb after the options in `timeOptions`: such a pair is joined into one argument
    /// before the arguments are parsed. Nothing after `--` is touched.
    public static func joiningSplitTimes(_ arguments: [String], timeOptions: Set<String>) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { out += arguments[i...]; break }
            out.append(a)
            i += 1
            guard timeOptions.contains(a), i + 1 < arguments.count else { continue }
            let first = arguments[i], second = arguments[i + 1]
            if (isDateWord(first) && isClockWord(second)) || (isClockWord(first) && isDateWord(second)) {
                out.append(first + " " + second)
                i += 2
            }
        }
        return out
    }

    static func isDateWord(_ w: String) -> Bool {
        let l = w.lowercased()
        if ["today", "yesterday", "tomorrow"].contains(l) || isISODate(l) { return true }
        return ((try? usDate(l)) ?? nil) != nil
    }

    static func isClockWord(_ w: String) -> Bool {
        var scan = Scanner(w)
        guard scan.number(digits: 1...2) != nil, scan.take(":"), scan.number(digits: 2...2) != nil else { return false }
        if scan.take(":") {
            guard scan.number(digits: 2...2) != nil else { return false }
            if scan.take(".") { guard !scan.digits().isEmpty else { return false } }
        }
        return scan.atEnd
    }

    enum LocalResolution: Equatable {
        case instant(Int), skipped(offsetBefore: Int, offsetAfter: Int), ambiguous(offsets: [Int])
    }

    /// The UTC second whose local wall clock in `tz` reads `naive` (seconds since 1970 as if UTC).
    /// Of two (DST ends) the earlier; of none (DST starts) `.skipped`. Offsets are sampled a day
    /// either side, which covers every zone's offset range.
    /// With `abbreviation`, of two the one the zone calls by that name (`02:30 CEST`, not CET).
    static func resolve(naive: Int, in tz: TimeZone, abbreviation: String? = nil) -> LocalResolution {
        func offset(_ t: Int) -> Int { tz.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))) }
        let before = offset(naive - 86_400), after = offset(naive + 86_400)
        let candidates = Set([before, offset(naive), after]).map { naive - $0 }.filter { $0 + offset($0) == naive }
        if let abbreviation, candidates.count > 1 {
            let named = candidates.filter { Self.abbreviation(of: tz, at: $0) == abbreviation }
            if named.count == 1 { return .instant(named[0]) }
            // A wall clock that happened twice, and a name that does not say which: a guess
            // could be an hour off.
            return .ambiguous(offsets: candidates.sorted().map { naive - $0 })
        }
        if let first = candidates.min() { return .instant(first) }
        return .skipped(offsetBefore: before, offsetAfter: after)
    }

    static func formatOffset(_ seconds: Int) -> String {
        let a = abs(seconds)
        return String(format: "%@%02d:%02d", seconds < 0 ? "-" : "+", a / 3600, a % 3600 / 60)
    }

    static func check(_ field: String, _ value: Int, _ range: ClosedRange<Int>) throws(ProblemBox) {
        guard range.contains(value) else {
            throw ProblemBox(.outOfRange(field: field, value: value, valid: range))
        }
    }

    static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Proleptic Gregorian day counts (H. Hinnant's algorithms): exact and zone-free.
    static func daysFromCivil(_ year: Int, _ m: Int, _ d: Int) -> Int { CivilDate.days(year: year, month: m, day: d) }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) { CivilDate.date(days: days) }

    /// Carries a problem out of helpers that do not know the input text.
    struct ProblemBox: Error { let problem: TimeExpressionError.Problem; init(_ p: TimeExpressionError.Problem) { problem = p } }

    /// Byte-level cursor over an already lowercased string.
    struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ s: String) { bytes = Array(s.utf8) }
        var atEnd: Bool { index == bytes.count }
        var peek: Character? { atEnd ? nil : Character(Unicode.Scalar(bytes[index])) }
        mutating func take(_ c: Character) -> Bool {
            guard let a = c.asciiValue, !atEnd, bytes[index] == a else { return false }
            index += 1
            return true
        }
        mutating func letters() -> String {
            let start = index
            while !atEnd, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[index]) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        mutating func digits(max: Int = .max) -> String {
            let start = index
            while !atEnd, index - start < max, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        /// A number of `allowed` digits (at most its upper bound, so "+0100" reads as 01 then 00);
        /// the cursor is left alone if it does not fit.
        mutating func number(digits allowed: ClosedRange<Int>) -> Int? {
            let start = index
            let text = digits(max: allowed.upperBound)
            guard allowed.contains(text.count), let n = Int(text) else { index = start; return nil }
            return n
        }
    }
}

extension Result where Failure == TimeExpressionError.Problem {
    fileprivate func orThrow<E: Error>(_ wrap: (TimeExpressionError.Problem) -> E) throws(E) -> Success {
        switch self {
        case .success(let v): return v
        case .failure(let p): throw wrap(p)
        }
    }
}

/// Why a time or duration could not be read; `description` is ready for the terminal.
public struct TimeExpressionError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable { case time, duration }
    public enum Problem: Error, Sendable, Equatable {
        case empty
        case unrecognized
        case outOfRange(field: String, value: Int, valid: ClosedRange<Int>)
        /// Outside years 0001-9999 (times) or longer than 10,000 years (durations).
        case tooFar
        /// A local time skipped by a DST change; `suggestion` is the same wall clock with the
        /// offset in force before the change.
        case nonexistentLocalTime(timeZone: String, suggestion: String)
        case bootTimeUnavailable(String)
        /// A zone abbreviation after the time that names no zone Foundation knows.
        case unknownZone(String)
        /// A local time that happened twice, named by an abbreviation that cannot tell which.
        case ambiguousLocalTime(timeZone: String, offsets: [String])
    }

    /// The text as the user gave it.
    public let input: String
    public let kind: Kind
    public let problem: Problem

    public init(input: String, kind: Kind, problem: Problem) {
        self.input = input
        self.kind = kind
        self.problem = problem
    }

    public var description: String {
        let what = kind == .time ? "a time" : "a duration"
        let accepted = "Accepted: " + (kind == .time ? TimeExpression.acceptedForms : TimeExpression.acceptedDurations)
        let shown = Self.quoted(input)
        switch problem {
        case .empty:
            return "cannot read \(shown) as \(what): it is empty. \(accepted)"
        case .unrecognized:
            return "cannot read \(shown) as \(what). \(accepted)"
        case .outOfRange(let field, let value, let valid):
            return "cannot read \(shown) as \(what): \(field) \(value) is out of range (\(valid.lowerBound)-\(valid.upperBound)). \(accepted)"
        case .tooFar:
            let limit = kind == .time ? "it is outside the years 0001-9999" : "it is longer than 10,000 years"
            return "cannot read \(shown) as \(what): \(limit). \(accepted)"
        case .nonexistentLocalTime(let zone, let suggestion):
            return "cannot read \(shown) as \(what): that local time never happened in \(zone) (the clocks jumped forward past it). Give an offset instead, e.g. \(suggestion)"
        case .ambiguousLocalTime(let zone, let offsets):
            return "cannot read \(shown) as \(what): that local time happened twice in \(zone) (the clocks went back). Give the offset instead: \(offsets.joined(separator: " or "))"
        case .unknownZone(let name):
            return "cannot read \(shown) as \(what): no time zone is called \(Self.quoted(name)). Give an offset instead (+09:00), or UTC. \(accepted)"
        case .bootTimeUnavailable(let why):
            return "cannot tell when the system booted: \(why). Give the time another way. \(accepted)"
        }
    }

    /// Quoted with control characters escaped, so input cannot drive the terminal.
    static func quoted(_ s: String) -> String {
        let short = s.count > 80 ? String(s.prefix(80)) + "…" : s
        var out = "\""
        for scalar in short.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
