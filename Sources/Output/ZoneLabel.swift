import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a printed time names its zone: `UTC`, or the offset and the tz database's
/// abbreviation (`+09:00 JST`, `+01:00 CET`, `+05:30 IST`). The offset is what makes the time
/// exact and readable back; the abbreviation is what people say. Foundation on Linux knows no
/// abbreviations (it says `GMT+9`, which POSIX reads as nine hours west); the C library reads
/// them from the tz database for the process's own zone.
public enum ZoneLabel {
    public static func of(_ zone: TimeZone, at epoch: Double) -> String {
        let date = Date(timeIntervalSince1970: epoch)
        let offset = zone.secondsFromGMT(for: date)
        if offset == 0 && isUTC(zone) { return "UTC" }
        let a = abs(offset)
        var label = (offset < 0 ? "-" : "+") + two(a / 3600) + ":" + two(a % 3600 / 60)
        if let name = abbreviation(zone, at: epoch) { label += " " + name }
        return label
    }

    /// Whether `zone` is UTC itself (not merely a zone at offset 0 today, like Europe/London
    /// in winter).
    public static func isUTC(_ zone: TimeZone) -> Bool {
        ["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "UCT", "Etc/UCT"]
            .contains(zone.identifier)
    }

    static func abbreviation(_ zone: TimeZone, at epoch: Double) -> String? {
        if zone.identifier == TimeZone.current.identifier {
            var t = time_t(epoch.rounded(.down))
            var parts = tm()
            if localtime_r(&t, &parts) != nil, let name = parts.tm_zone {
                let s = String(cString: name)
                // Zones without a name have numbers here ("+0530", "-03"): the offset says it.
                if let first = s.unicodeScalars.first, CharacterSet.letters.contains(first) { return s }
            }
        }
        guard let name = zone.abbreviation(for: Date(timeIntervalSince1970: epoch)),
              !(name.hasPrefix("GMT") && name.count > 3) else { return nil }
        return name
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
