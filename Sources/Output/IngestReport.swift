import Foundation
import KillDB

public enum Bytes {
    /// `1.5 MB` style sizes (powers of 1000, as df -H and most tools print them).
    public static func format(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = Double(n)
        var u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
    }
}

/// What `killdb ingest` prints when it is done.
public enum IngestReport {
    public static func text(_ s: IngestSummary, database: String, verbose: Bool, warnings: [String] = []) -> String {
        let t = s.totals
        var out = "read \(t.files) file\(t.files == 1 ? "" : "s") (\(Bytes.format(t.bytes)) not read before): "
        out += "\(t.signalEvents) signal event\(t.signalEvents == 1 ? "" : "s"), \(t.newEvents) new to the database"
        if s.mergedEvents > 0 { out += ", \(s.mergedEvents) already stored" }
        out += "\n"
        out += kernelText(s.kernel, verbose: verbose)
        out += "database: \(SafeText.line(database))\n"
        if s.skippedTotal > 0 {
            out += "skipped \(s.skippedTotal) line\(s.skippedTotal == 1 ? "" : "s") that could not be read as audit records"
            out += verbose ? ":\n" : " (--verbose names them)\n"
            if verbose {
                for line in s.skipped {
                    out += "  \(SafeText.line(line.path)) at byte \(line.offset): \(line.reason)\n"
                }
                if s.skipped.count < s.skippedTotal { out += "  ... and \(s.skippedTotal - s.skipped.count) more\n" }
            }
        }
        for w in warnings { out += "warning: \(SafeText.line(w))\n" }
        for path in s.vanished {
            out += "warning: \(SafeText.line(path)) was deleted by log rotation before it could be read\n"
        }
        if s.conflictingEvents > 0 {
            let n = s.conflictingEvents
            out += "warning: \(n) cop\(n == 1 ? "y" : "ies") of stored event ids told another story (another sender, signal or target); the first copy was kept, the other\(n == 1 ? " is" : "s are") in the event_conflicts table\n"
        }
        if s.unparsableEvents > 0 {
            out += "\(s.unparsableEvents) signal event\(s.unparsableEvents == 1 ? "" : "s") could not be parsed by libauparse and were skipped\n"
        }
        if !s.serialGaps.isEmpty {
            let missing = s.serialGaps.reduce(0) { $0 + Int($1.missing) }
            out += "warning: \(missing) event\(missing == 1 ? "" : "s") missing from the logs' serial sequence (lost or filtered); see the lost_events view\n"
        }
        if verbose {
            for f in s.files {
                out += "  \(SafeText.line(f.path)): "
                if f.resumed { out += "resumed at byte \(f.startOffset), " }
                out += "\(Bytes.format(f.endOffset - f.startOffset)) read, \(f.coverage.lines) lines, \(f.coverage.signalEvents) signal events"
                if let first = f.coverage.firstEventTime, let last = f.coverage.lastEventTime {
                    out += ", events from \(Time.iso(first)) to \(Time.iso(last))"
                }
                out += "\n"
            }
        }
        return out
    }

    /// One line per kernel log read, and one for the audit logs' SECCOMP/ANOM_ABEND records.
    static func kernelText(_ k: KernelLogSummary, verbose: Bool) -> String {
        var out = ""
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        if k.auditKills > 0 {
            out += "audit logs: \(plural(k.auditKills, "kill")) by the kernel (seccomp, fatal signals), \(k.newAuditKills) new\n"
        }
        for src in k.sources {
            out += "kernel log \(SafeText.line(src.path)) (\(src.format)): \(src.entries) new entr\(src.entries == 1 ? "y" : "ies")"
            out += ", \(src.newKills) new kill\(src.newKills == 1 ? "" : "s") by the kernel"
            // The oom-kill: line and the Killed process line describe one kill.
            if src.kills > src.newKills {
                let more = src.kills - src.newKills
                out += " (\(more) more entr\(more == 1 ? "y" : "ies") about kills on record)"
            }
            if src.systemdActions > 0 { out += ", \(plural(src.systemdActions, "systemd action"))" }
            if src.signalEvents > 0 { out += ", \(plural(src.signalEvents, "signal event")) from audit records it holds" }
            out += "\n"
            if src.overrun > 0 {
                out += "warning: the kernel's ring buffer overwrote records of \(SafeText.line(src.path)) before they could be read: ingest more often\n"
            }
            if src.badLines > 0 {
                out += "  \(plural(src.badLines, "line")) in no kernel log format known to killdb were skipped\n"
            }
            if src.unverifiedAuditRecords > 0 {
                out += "  \(plural(src.unverifiedAuditRecords, "audit record")) that cannot be proven the kernel's (any user can write them there) were not used\n"
            }
            if verbose {
                if let r = src.resumedAfter { out += "  resumed after \(src.format == "kmsg" ? "record" : "byte") \(r)\n" }
                if let f = src.firstTime, let l = src.lastTime { out += "  entries from \(Time.iso(f)) to \(Time.iso(l))\n" }
            }
        }
        if k.newSignalEvents > 0 {
            out += "\(plural(k.newSignalEvents, "signal event")) recovered from the kernel log's audit records (no auditd was running)\n"
        }
        return out
    }

    public static func json(_ s: IngestSummary, database: String, warnings: [String] = []) -> String {
        var files: [[String: Any]] = []
        for f in s.files {
            var o: [String: Any] = [
                "path": f.path, "start_offset": f.startOffset, "end_offset": f.endOffset,
                "resumed": f.resumed, "lines": f.coverage.lines, "records": f.coverage.records,
                "signal_events": f.coverage.signalEvents, "bad_lines": f.coverage.badLines,
            ]
            o["first_event_time"] = f.coverage.firstEventTime ?? NSNull()
            o["last_event_time"] = f.coverage.lastEventTime ?? NSNull()
            files.append(o)
        }
        let object: [String: Any] = [
            "database": database,
            "run_id": s.runID,
            "files": files,
            "bytes": s.totals.bytes,
            "lines": s.totals.lines,
            "signal_events": s.totals.signalEvents,
            "new_events": s.totals.newEvents,
            "already_stored": s.mergedEvents,
            "conflicting_copies": s.conflictingEvents,
            "warnings": warnings,
            "skipped_lines": s.skippedTotal,
            "unparsable_events": s.unparsableEvents,
            "lost_events": s.serialGaps.reduce(0) { $0 + Int($1.missing) },
            "skipped": s.skipped.map { ["path": $0.path, "offset": $0.offset, "reason": $0.reason] as [String: Any] },
            "kernel_logs": s.kernel.sources.map { src -> [String: Any] in
                [
                    "path": src.path, "format": src.format, "entries": src.entries, "kills": src.kills,
                    "new_kills": src.newKills, "systemd_actions": src.systemdActions, "signal_events": src.signalEvents,
                    "bad_lines": src.badLines, "overrun": src.overrun, "unverified_audit_records": src.unverifiedAuditRecords,
                    "resumed_after": src.resumedAfter ?? NSNull(),
                    "first_event_time": src.firstTime ?? NSNull(), "last_event_time": src.lastTime ?? NSNull(),
                ]
            },
            "kernel_kills": s.kernel.kills + s.kernel.auditKills,
            "new_kernel_kills": s.kernel.newKills + s.kernel.newAuditKills,
            "kernel_log_signal_events_new": s.kernel.newSignalEvents,
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

public enum Time {
    /// `2026-11-24T19:02:30.123Z`.
    public static func iso(_ epoch: Double) -> String {
        Clock.stamp(epoch, offset: 0, separator: "T") + "Z"
    }
}
