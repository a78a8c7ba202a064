import Foundation

/// How long a record stays in auditd's logs, and how often to ingest so none is missed.
///
/// With max_log_file_action = ROTATE auditd keeps num_logs files (audit.log and
/// audit.log.1 ... audit.log.{num_logs-1}) of max_log_file MB, deleting the oldest at each
/// rotation. A record written just before a rotation is deleted num_logs − 1 rotations
/// later, so the horizon that holds for every record is (num_logs − 1) × max_log_file ÷
/// write rate; auditd's num_logs × max_log_file is the best case.
public enum Retention {
    public static let mebibyte: Double = 1_048_576

    /// Bytes per second the logs grow by, from the bytes they hold and the time they span:
    /// the oldest file's first stamp to the newest file's last (or its mtime). Without the
    /// first stamp, the oldest file's mtime marks the start and its bytes are left out.
    /// Nil when the logs span under a minute or hold nothing: too little to go on.
    public static func writeRate(_ files: [LogFileInfo]) -> (bytesPerSecond: Double, span: TimeInterval, bytes: Int64)? {
        guard let oldest = files.first, let newest = files.last else { return nil }
        let end = newest.lastStamp ?? newest.modified.timeIntervalSince1970
        var bytes = files.reduce(Int64(0)) { $0 + $1.loggedBytes }
        let start: Double
        if let first = oldest.firstStamp {
            start = first
        } else {
            guard files.count > 1 else { return nil }
            start = oldest.modified.timeIntervalSince1970
            bytes -= oldest.loggedBytes
        }
        let span = end - start
        guard span >= 60, bytes > 0 else { return nil }
        return (Double(bytes) / span, span, bytes)
    }

    /// What auditd's settings mean for retention.
    public enum Policy: Sendable, Equatable {
        /// Rotates and deletes: records survive `bytes` more bytes of logging.
        case rotates(bytes: Double)
        /// Never deletes (KEEP_LOGS, IGNORE, SYSLOG, or ROTATE with num_logs < 2): the disk
        /// fills instead; `why` names the setting.
        case keeps(why: String)
        /// Stops logging, or stops the machine, when audit.log is full (SUSPEND, SINGLE, HALT).
        case stops(action: String)
        /// EXEC and anything unknown: a script decides.
        case other(action: String)
        /// write_logs = no.
        case noLogs
    }

    public static func policy(_ config: AuditdConfig) -> Policy {
        guard config.writesLogs else { return .noLogs }
        switch config.maxLogFileAction {
        case "ROTATE":
            guard config.numLogs >= 2 else { return .keeps(why: "num_logs = \(config.numLogs): below 2, auditd does not rotate") }
            return .rotates(bytes: Double(config.numLogs - 1) * Double(config.maxLogFileMB) * mebibyte)
        case "KEEP_LOGS": return .keeps(why: "max_log_file_action = KEEP_LOGS: rotated logs are never deleted")
        case "IGNORE", "SYSLOG": return .keeps(why: "max_log_file_action = \(config.maxLogFileAction): audit.log just grows")
        case "SUSPEND", "SINGLE", "HALT": return .stops(action: config.maxLogFileAction)
        default: return .other(action: config.maxLogFileAction)
        }
    }

    /// Intervals a cron line or a timer can say plainly, in seconds.
    public static let steps: [TimeInterval] = [
        60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400,
    ]

    /// The ingest interval to recommend: a quarter of the horizon, rounded down to a step
    /// (at least a minute, at most a day), so one missed or slow run still leaves margin.
    public static func recommendedInterval(horizon: TimeInterval) -> TimeInterval {
        let quarter = horizon / 4
        return steps.last(where: { $0 <= quarter }) ?? steps[0]
    }

    /// The cron schedule for a step: `*/15 * * * *`, `0 */2 * * *`, `0 0 * * *`.
    public static func cronSchedule(_ interval: TimeInterval) -> String {
        let minutes = Int(interval / 60)
        switch minutes {
        case ...1: return "* * * * *"
        case ..<60: return "*/\(minutes) * * * *"
        case 1440...: return "0 0 * * *"
        default: return minutes == 60 ? "0 * * * *" : "0 */\(minutes / 60) * * *"
        }
    }

    /// The systemd timer setting for a step: `OnUnitActiveSec=15min`.
    public static func timerSetting(_ interval: TimeInterval) -> String {
        let minutes = Int(interval / 60)
        return "OnUnitActiveSec=" + (minutes >= 60 && minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes)min")
    }

    /// The median gap between consecutive run starts (any order); nil for fewer than two runs.
    public static func medianInterval(_ starts: [Double]) -> TimeInterval? {
        let sorted = starts.sorted()
        guard sorted.count >= 2 else { return nil }
        let gaps = zip(sorted.dropFirst(), sorted).map { $0 - $1 }.sorted()
        let mid = gaps.count / 2
        return gaps.count % 2 == 1 ? gaps[mid] : (gaps[mid - 1] + gaps[mid]) / 2
    }
}

/// Durations, sizes and times as an operator reads them.
public enum Words {
    /// `2026-11-24 19:02:30 UTC`.
    public static func time(_ epoch: Double) -> String {
        var t = time_t(epoch.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d UTC", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    public static func plural(_ n: Int64, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
}
