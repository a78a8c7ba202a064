import Foundation
import Queries

/// `who --follow`'s output: one line per signal event as it is stored, as `journalctl -f`
/// prints one line per entry. Everything the kernel logged is escaped.
public enum FollowLine {
    /// `2026-11-25 11:00:00.300 UTC  SIGKILL to pid 4242 (nginx) from pid 1 (systemd)
    /// /usr/lib/systemd/systemd, uid 0  [audit event 1795....300:1234]`
    public static func text(_ r: SignalRow, timeZone: TimeZone) -> String {
        func s(_ b: [UInt8]?) -> String { b.map { SafeText.escape($0) } ?? "?" }
        let signal = r.signalName ?? r.signal.map { "signal \($0)" } ?? "a signal"
        var target = r.targetPid.map { "pid \($0)" } ?? r.targetArg.map { "pid \($0)" } ?? "an unknown process"
        if let comm = r.targetComm { target += " (\(s(comm)))" }
        var line = "\(Clock.local(r.eventTime, timeZone))  \(signal) to \(target)"
        line += " from pid \(r.senderPid.map(String.init) ?? "?") (\(s(r.senderComm)))"
        if let exe = r.senderExe { line += " \(s(exe))" }
        if let uid = r.senderUid { line += ", uid \(uid)" }
        if r.success == false { line += ", failed" + (r.errno.map { " (\($0))" } ?? "") }
        if let node = r.node { line += ", node \(s(node))" }
        return line + "  [audit event \(r.eventID)]\n"
    }

    /// The same event as one JSON object on one line (JSON Lines), keyed as the `signals` view.
    public static func json(_ r: SignalRow) -> String {
        JSON.object(zip(SignalRow.outputColumns, r.cells).map { ($0.0, JSON.value($0.1)) }) + "\n"
    }

    /// `2026-11-25 11:00:00.300 UTC  SIGKILL to pid 4242 (java) by the kernel's OOM killer: the
    /// system ran out of memory  [kernel log]`
    public static func text(_ k: Follow.KernelKill, timeZone: TimeZone) -> String {
        func s(_ b: [UInt8]?) -> String { b.map { SafeText.escape($0) } ?? "?" }
        var target = k.pid.map { "pid \($0)" } ?? "a process"
        if let comm = k.comm { target += " (\(s(comm)))" }
        var line = "\(Clock.local(k.eventTime, timeZone))  \(k.signalName ?? "a kill") to \(target) by \(SafeText.line(k.reason ?? k.kind))"
        if let node = k.node { line += ", node \(s(node))" }
        return line + "  [kernel log" + (k.source.map { ": \(SafeText.line($0))" } ?? "")
            + (k.verified ? "" : ", UNVERIFIED: anyone can write such a line there") + "]\n"
    }

    public static func json(_ k: Follow.KernelKill) -> String {
        func t(_ b: [UInt8]?) -> String { b.map { JSON.string($0) } ?? "null" }
        func t(_ v: String?) -> String { v.map { JSON.string(Array($0.utf8)) } ?? "null" }
        return JSON.object(JSON.timed([("kind", t("kernel")), ("kernel_kind", t(k.kind)), ("node", t(k.node)),
                            ("event_time", JSON.value(.real(k.eventTime))), ("pid", k.pid.map(String.init) ?? "null"),
                            ("comm", t(k.comm)), ("signal_name", t(k.signalName)), ("reason", t(k.reason)),
                            ("source", t(k.source)), ("verified", k.verified ? "true" : "false")])) + "\n"
    }
}
