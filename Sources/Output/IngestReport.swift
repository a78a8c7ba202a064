import Foundation
import KillDB
import Quantities

/// What `killdb ingest` prints when it is done.
public enum IngestReport {
    public static func text(_ s: IngestSummary, database: String, verbose: Bool, warnings: [String] = []) -> String {
        let t = s.totals
        var out = "read \(t.files) file\(t.files == 1 ? "" : "s") (\(Quantity.bytes(t.bytes)) not read before): "
        out += "\(t.signalEvents) signal event\(t.signalEvents == 1 ? "" : "s"), \(t.newEvents) new to the database"
        if s.mergedEvents > 0 { out += ", \(s.mergedEvents) already stored" }
        out += "\n"
        out += kernelText(s.kernel, verbose: verbose)
        if s.forwardedTraceMessages > 0 {
            out += "tracer messages (killdb trace --audit): \(s.forwardedTraceMessages), \(s.newTracedSignals) new traced signal\(s.newTracedSignals == 1 ? "" : "s")\n"
        }
        if s.unverifiedTraceMessages > 0 {
            let n = s.unverifiedTraceMessages
            out += "warning: \(n) audit message\(n == 1 ? "" : "s") that read like the tracer's but were not written by root running killdb \(n == 1 ? "was" : "were") not used as evidence (see the unverified_trace_messages table)\n"
        }
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
        for w in warnings + [s.mixedHostsWarning].compactMap({ $0 }) { out += "warning: \(SafeText.line(w))\n" }
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
                out += "\(Quantity.bytes(f.endOffset - f.startOffset)) read, \(f.coverage.lines) lines, \(f.coverage.signalEvents) signal events"
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
        let files = s.files.map { f -> JSONValue in
            .sorted([
                ("path", .string(f.path)), ("start_offset", .integer(f.startOffset)), ("end_offset", .integer(f.endOffset)),
                ("resumed", .bool(f.resumed)), ("lines", .integer(f.coverage.lines)), ("records", .integer(f.coverage.records)),
                ("signal_events", .integer(f.coverage.signalEvents)), ("bad_lines", .integer(f.coverage.badLines)),
                ("first_event_time", .optional(f.coverage.firstEventTime)), ("last_event_time", .optional(f.coverage.lastEventTime)),
            ])
        }
        let kernelLogs = s.kernel.sources.map { src -> JSONValue in
            .sorted([
                ("path", .string(src.path)), ("format", .string(src.format)), ("entries", .integer(src.entries)),
                ("kills", .integer(src.kills)), ("new_kills", .integer(src.newKills)),
                ("systemd_actions", .integer(src.systemdActions)), ("signal_events", .integer(src.signalEvents)),
                ("bad_lines", .integer(src.badLines)), ("overrun", .integer(src.overrun)),
                ("unverified_audit_records", .integer(src.unverifiedAuditRecords)),
                ("resumed_after", src.resumedAfter.map { .integer(Int64($0)) } ?? .null),
                ("first_event_time", .optional(src.firstTime)), ("last_event_time", .optional(src.lastTime)),
            ])
        }
        return JSON.write(.sorted([
            ("database", .string(database)),
            ("run_id", .integer(s.runID)),
            ("files", .array(files)),
            ("bytes", .integer(s.totals.bytes)),
            ("lines", .integer(s.totals.lines)),
            ("signal_events", .integer(s.totals.signalEvents)),
            ("new_events", .integer(s.totals.newEvents)),
            ("already_stored", .integer(s.mergedEvents)),
            ("conflicting_copies", .integer(s.conflictingEvents)),
            ("warnings", .array((warnings + [s.mixedHostsWarning].compactMap { $0 }).map(JSONValue.string))),
            ("skipped_lines", .integer(s.skippedTotal)),
            ("unparsable_events", .integer(s.unparsableEvents)),
            ("tracer_messages", .integer(s.forwardedTraceMessages)),
            ("new_traced_signals", .integer(s.newTracedSignals)),
            ("unverified_tracer_messages", .integer(s.unverifiedTraceMessages)),
            ("lost_events", .integer(s.serialGaps.reduce(0) { $0 + Int($1.missing) })),
            ("skipped", .array(s.skipped.map {
                .sorted([("path", .string($0.path)), ("offset", .integer($0.offset)), ("reason", .string($0.reason))])
            })),
            ("kernel_logs", .array(kernelLogs)),
            ("kernel_kills", .integer(s.kernel.kills + s.kernel.auditKills)),
            ("new_kernel_kills", .integer(s.kernel.newKills + s.kernel.newAuditKills)),
            ("kernel_log_signal_events_new", .integer(s.kernel.newSignalEvents)),
        ]))
    }
}

public enum Time {
    /// `2026-11-24T19:02:30.123Z`.
    public static func iso(_ epoch: Double) -> String {
        Clock.stamp(epoch, offset: 0, separator: "T") + "Z"
    }
}
