/// Small algorithms more than one module needs, each written once.

/// FNV-1a, 64-bit: a fast, stable hash of bytes (file fingerprints, kernel-log identities).
/// Not for anything an adversary must not collide.
public enum FNV1a {
    public static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }
}

/// Dates of the proleptic Gregorian calendar as days since 1970-01-01, without Foundation's
/// calendars (Howard Hinnant's algorithms).
public enum CivilDate {
    /// Days since 1970-01-01 of `year`-`month`-`day`.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    public static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A list of signals as the command line names them: `KILL`, `SIGKILL`, `9`, `KILL,TERM`,
/// `RTMIN+2`, or `all`. The one parser behind `who --signal`, `report --signal` and
/// `rules --signals`.
public enum SignalList: Sendable, Equatable {
    case all
    /// In the order named, each once.
    case only([Int32])

    /// A part of the list that names no signal (the whole text when it is empty).
    public struct Unknown: Error, Equatable {
        public var part: String
    }

    public static func parse(_ text: String) throws(Unknown) -> SignalList {
        let trimmed = text.trimmedOfWhitespace
        if trimmed.lowercased() == "all" { return .all }
        var numbers: [Int32] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false).map({ String($0).trimmedOfWhitespace }) {
            guard let n = AuditArch.x86_64.signalNumber(named: part), (0...64).contains(n) else {
                throw Unknown(part: part.isEmpty ? text : part)
            }
            if !numbers.contains(n) { numbers.append(n) }
        }
        return .only(numbers)
    }
}

extension String {
    var trimmedOfWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

extension EventID {
    /// The stamp as ausearch prints it, `1418188627.862:14281`: the one event-id format.
    public static func format(seconds: Int64, milliseconds: Int64, serial: Int64) -> String {
        let ms = String(milliseconds)
        return "\(seconds).\(String(repeating: "0", count: max(0, 3 - ms.count)))\(ms):\(serial)"
    }
}
