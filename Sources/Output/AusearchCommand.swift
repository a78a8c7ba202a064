import Foundation

/// The ausearch command that shows an audit event's raw records, so an answer can be checked
/// against the log in one paste: `ausearch -a 31499 -ts 11/24/26 19:02:27 -te 11/24/26 19:02:28`.
/// The serial alone is not enough (it restarts at boot); the times, in ausearch's own
/// month-first form and in the zone ausearch will read them in, narrow it to that second.
public enum AusearchCommand {
    /// `zone` is the zone the times are written in; unless it is `localZone` (the zone
    /// ausearch, started from the same shell, reads times in), the command sets TZ for it.
    /// A nil `localZone` always sets it: the command is then the same wherever it is pasted.
    public static func forEvent(serial: Int64, time epoch: Double, node: String?, zone: TimeZone,
                                localZone: TimeZone?) -> String {
        let second = epoch.rounded(.down)
        func stamp(_ t: Double) -> String {
            var seconds = time_t(t) + time_t(zone.secondsFromGMT(for: Date(timeIntervalSince1970: t)))
            var parts = tm()
            gmtime_r(&seconds, &parts)
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            return "\(two(parts.tm_mon + 1))/\(two(parts.tm_mday))/\(two(parts.tm_year % 100)) "
                + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        }
        // Foundation calls UTC "GMT"; the tz database and operators call it UTC.
        var command = zone.identifier == localZone?.identifier ? "" : "TZ=\(ZoneLabel.isUTC(zone) ? "UTC" : zone.identifier) "
        command += "ausearch -a \(serial) -ts \(stamp(second)) -te \(stamp(second + 1))"
        if let node, !node.isEmpty, node.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) {
            command += " -n \(node)"
        }
        return command
    }
}
