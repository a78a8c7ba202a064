import Foundation
import Queries

extension SignalRow {
    /// The row as cells, in `SignalRow.columns` order.
    public var cells: [Cell] {
        func t(_ b: [UInt8]?) -> Cell { b.map(Cell.text) ?? .null }
        func t(_ s: String?) -> Cell { s.map { Cell.text(Array($0.utf8)) } ?? .null }
        func i(_ v: Int64?) -> Cell { v.map(Cell.integer) ?? .null }
        func b(_ v: Bool?) -> Cell { v.map { Cell.integer($0 ? 1 : 0) } ?? .null }
        return [t(node), .real(eventTime), t(eventID), .integer(serial), t(arch), t(syscall), i(signal),
                t(signalName), b(probe), b(success), i(exit), t(errno), i(targetArg), i(tgidArg), i(pidfd),
                i(senderPid), i(senderPpid), i(senderUid), i(senderAuid), i(senderEuid), i(senderSes),
                t(senderTty), t(senderComm), t(senderExe), t(senderCmdline), t(senderUidName),
                t(senderAuidName), t(senderEuidName), i(targetPid), i(targetUid), i(targetAuid), i(targetSes),
                t(targetComm), t(targetUidName), t(targetAuidName), t(key)]
    }
}

/// Resolves a uid to a user name on this host (used when the log was not ENRICHED).
public typealias UserNames = @Sendable (Int64) -> String?

public enum LocalUsers {
    public static let lookup: UserNames = { uid in
        guard uid >= 0, uid < 4294967295, let pw = getpwuid(uid_t(uid)) else { return nil }
        return String(cString: pw.pointee.pw_name)
    }
}

/// What `killdb who` prints.
public enum WhoReport {
    public struct Context: Sendable {
        public var question: String
        public var timeZone: TimeZone
        public var users: UserNames
        /// ANSI colour: only on a terminal and never with NO_COLOR (`Terminal.colour`).
        public var colour: Bool
        public init(question: String, timeZone: TimeZone = .current, users: @escaping UserNames = LocalUsers.lookup,
                    colour: Bool = false) {
            self.question = question
            self.timeZone = timeZone
            self.users = users
            self.colour = colour
        }

        func bold(_ s: String) -> String { colour ? "\u{1b}[1m\(s)\u{1b}[0m" : s }
        func red(_ s: String) -> String { colour ? "\u{1b}[1;31m\(s)\u{1b}[0m" : s }
        func yellow(_ s: String) -> String { colour ? "\u{1b}[33m\(s)\u{1b}[0m" : s }
    }

    public static func text(_ answer: WhoAnswer, _ ctx: Context) -> String {
        var out = ""
        let timeline = answer.timeline.isEmpty ? answer.rows.map(KillEntry.signal) : answer.timeline
        guard let first = timeline.first else {
            out += "No \(ctx.question) is on record.\n"
            out += notes(answer, ctx)
            return out
        }
        switch first {
        case .signal(let r):
            out += ctx.bold(headline(r, ctx)) + "\n"
            out += details(r, ctx)
            out += systemdLine(r, answer)
        case .kernel(let k):
            out += ctx.bold(headline(k, ctx)) + "\n"
            out += details(k, ctx)
        case .systemd(let s):
            out += ctx.bold(headline(s, ctx)) + "\n"
            out += details(s)
        }
        let others = timeline.dropFirst()
        if !others.isEmpty {
            out += "\nEarlier candidates, newest first:\n"
            out += Table.render(columns: ["time", "signal", "target", "sender", "command", "result"],
                                rows: others.map { row(for: $0, ctx, reference: first, answer) }, width: Terminal.width())
        }
        out += notes(answer, ctx)
        return out
    }

    // MARK: kills no process sent

    /// `pid 29967 (python3) was killed by the kernel's OOM killer at T (UTC): memory cgroup /x exceeded its limit`
    static func headline(_ k: KernelKillRow, _ ctx: Context) -> String {
        let target = SafeText.escape(process(k.pid, k.comm))
        let when = "at \(Clock.local(k.eventTime, ctx.timeZone)) (\(Clock.utc(k.eventTime)))"
        return "\(target) \(killedBy(k)) \(when): \(cause(k))"
    }

    /// `was killed by the kernel's OOM killer`, as a verb phrase.
    public static func killedBy(_ k: KernelKillRow) -> String {
        switch k.kind {
        case "oom", "memcg-oom": return "was killed by the kernel's OOM killer"
        case "seccomp": return "was killed by a seccomp filter"
        case "abend": return "was ended by the kernel with \(k.signalName ?? "a fatal signal")"
        default: return "was killed by the kernel"
        }
    }

    /// Why, in a few words.
    public static func cause(_ k: KernelKillRow) -> String {
        switch k.kind {
        case "memcg-oom":
            if let c = k.limitCgroup ?? k.cgroup { return "memory cgroup \(SafeText.escape(c)) exceeded its limit" }
            return "a memory cgroup exceeded its limit"
        case "oom":
            switch k.constraint {
            case "CONSTRAINT_CPUSET": return "its cpuset ran out of memory"
            case "CONSTRAINT_MEMORY_POLICY": return "its memory policy's nodes ran out of memory"
            default: return "the system ran out of memory"
            }
        case "seccomp": return "it made syscall \(k.syscall.map(String.init) ?? "?"), which the filter forbids"
        case "abend": return "a fatal signal it did not handle (the kernel logged a core dump)"
        default: return k.reason
        }
    }

    static func details(_ k: KernelKillRow, _ ctx: Context) -> String {
        var out = ""
        func field(_ name: String, _ value: String) { out += "  " + name.padded(to: 10) + value + "\n" }
        field("signal", "\(k.signalName ?? "?"), from the kernel itself: no process sent it")
        if let task = k.cgroup {
            var line = SafeText.escape(task)
            if let limit = k.limitCgroup, limit != task { line += " (the limit hit was \(SafeText.escape(limit))'s)" }
            field("cgroup", line)
        }
        if let c = k.constraint, c != "CONSTRAINT_MEMCG" { field("constraint", c) }
        if let d = k.details { field(k.kind == "seccomp" ? "seccomp" : "memory", SafeText.line(d)) }
        if let e = k.exe { field("exe", SafeText.escape(e)) }
        if let uid = k.uid { field("user", "uid \(name(uid, nil, ctx))") }
        var evidence = "\(source(k.source))"
        if let m = k.message { evidence += ": " + SafeText.escape(m) }
        if let node = k.node { evidence += " on node \(SafeText.escape(node))" }
        field("evidence", evidence)
        return out
    }

    static func source(_ s: String) -> String {
        switch s {
        case "kmsg": return "kernel log (/dev/kmsg)"
        case "journal": return "kernel log (journal)"
        case "syslog": return "kernel log (syslog)"
        case "dmesg": return "kernel log (dmesg output)"
        case "audit": return "audit log"
        default: return SafeText.line(s)
        }
    }

    static func headline(_ s: SystemdKillRow, _ ctx: Context) -> String {
        let sig = s.signalName ?? "signal ?"
        let target = SafeText.escape(process(s.pid, s.comm))
        return "\(sig) to \(target) at \(Clock.local(s.eventTime, ctx.timeZone)) (\(Clock.utc(s.eventTime))) from systemd (PID 1)"
    }

    static func details(_ s: SystemdKillRow) -> String {
        var out = ""
        func field(_ name: String, _ value: String) { out += "  " + name.padded(to: 10) + value + "\n" }
        field("unit", s.unit.map { SafeText.escape($0) } ?? "?")
        field("why", systemdReason(s))
        var evidence = "the journal (no audit record of this signal)"
        if let node = s.node { evidence += " on node \(SafeText.escape(node))" }
        field("evidence", evidence)
        return out
    }

    public static func systemdReason(_ s: SystemdKillRow) -> String {
        if let r = s.reason { return SafeText.line(r) }
        return "systemd stopped or killed the unit (systemctl stop or kill, or a dependency); the journal names no timeout"
    }

    /// What PID 1 sending a signal means, with the journal's unit and reason when known.
    static func systemdLine(_ r: SignalRow, _ answer: WhoAnswer) -> String {
        guard r.senderPid == 1 else { return "" }
        let value: String
        if let s = answer.systemdContext[WhoAnswer.rowKey(r)] {
            value = (s.unit.map { SafeText.escape($0) + ": " } ?? "") + systemdReason(s)
        } else {
            value = "PID 1 sends this when a unit's stop times out, or on `systemctl kill`; the journal names the unit (killdb ingest --journal)"
        }
        return "  " + "systemd".padded(to: 10) + value + "\n"
    }

    static func row(for entry: KillEntry, _ ctx: Context, reference: KillEntry, _ answer: WhoAnswer) -> [Cell] {
        func text(_ s: String) -> Cell { .text(Array(s.utf8)) }
        let time = text(Clock.local(entry.time, ctx.timeZone))
        switch entry {
        case .signal(let r):
            if case .signal(let ref) = reference { return row(for: r, ctx, reference: ref) }
            return row(for: r, ctx, reference: r)
        case .kernel(let k):
            let sender = k.kind == "memcg-oom" ? "kernel: memory cgroup OOM killer"
                : k.kind == "oom" ? "kernel: OOM killer" : k.kind == "seccomp" ? "kernel: seccomp" : "kernel"
            return [time, text(k.signalName ?? "?"), .text(process(k.pid, k.comm)), text(sender), text(cause(k)), text("delivered")]
        case .systemd(let s):
            let sig = s.signalName ?? "?"
            return [time, text(sig), .text(process(s.pid, s.comm)), text("pid 1 (systemd)"), .text(s.unit ?? []),
                    text("journal only")]
        }
    }

    /// `who --format json`: every entry, newest first. Signal rows carry the `signals` view's
    /// columns, `kind` "signal" and systemd's unit and reason when PID 1 sent them; kernel
    /// rows the `kernel_kills` view's, its `kind` as `kernel_kind`, and `kind` "kernel";
    /// systemd's journal-only kills `kind` "systemd".
    public static func json(_ answer: WhoAnswer) -> String {
        let timeline = answer.timeline.isEmpty ? answer.rows.map(KillEntry.signal) : answer.timeline
        func str(_ s: String?) -> String { s.map { JSON.string(Array($0.utf8)) } ?? "null" }
        func bytes(_ b: [UInt8]?) -> String { b.map(JSON.string) ?? "null" }
        func int(_ v: Int64?) -> String { v.map(String.init) ?? "null" }
        let objects = timeline.map { entry -> String in
            switch entry {
            case .signal(let r):
                let s = answer.systemdContext[WhoAnswer.rowKey(r)]
                var members = [("kind", str("signal"))] + zip(SignalRow.columns, r.cells.map(JSON.value)).map { ($0, $1) }
                members += [("systemd_unit", bytes(s?.unit)), ("systemd_reason", str(s.map(systemdReason)))]
                return JSON.object(members)
            case .kernel(let k):
                return JSON.object([
                    ("kind", str("kernel")), ("node", bytes(k.node)), ("event_time", JSON.value(.real(k.eventTime))),
                    ("kernel_kind", str(k.kind)), ("reason", str(k.reason)), ("pid", int(k.pid)), ("comm", bytes(k.comm)),
                    ("exe", bytes(k.exe)), ("uid", int(k.uid)), ("signal", int(k.signal)), ("signal_name", str(k.signalName)),
                    ("cgroup", bytes(k.cgroup)), ("limit_cgroup", bytes(k.limitCgroup)), ("constraint", str(k.constraint)),
                    ("syscall", int(k.syscall)), ("details", str(k.details)), ("source", str(k.source)), ("message", bytes(k.message)),
                ])
            case .systemd(let s):
                return JSON.object([
                    ("kind", str("systemd")), ("node", bytes(s.node)), ("event_time", JSON.value(.real(s.eventTime))),
                    ("systemd_kind", str(s.kind)), ("unit", bytes(s.unit)), ("pid", int(s.pid)), ("comm", bytes(s.comm)),
                    ("signal", int(s.signal)), ("signal_name", str(s.signalName)),
                    ("reason", str(s.reason)),
                ])
            }
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    static func headline(_ r: SignalRow, _ ctx: Context) -> String {
        let sig = r.signalName ?? "signal ?"
        var line = "\(sig) to \(target(r)) at \(Clock.local(r.eventTime, ctx.timeZone)) (\(Clock.utc(r.eventTime)))"
        if r.success == false { line += ": " + ctx.red("FAILED (\(r.errno ?? "error"))") }
        return line
    }

    static func target(_ r: SignalRow) -> String { SafeText.escape(targetBytes(r)) }

    /// `pid 4242 (java)` with the name's bytes as logged: a table escapes its cells itself,
    /// and text escaped before would be escaped twice there (`\\e`).
    static func targetBytes(_ r: SignalRow) -> [UInt8] {
        if let pid = r.targetPid { return process(pid, r.targetComm) }
        if let arg = r.targetArg {
            if arg == -1 { return Array("every process it may signal (pid -1)".utf8) }
            if arg < -1 { return Array("process group \(-arg)".utf8) }
            return Array("pid \(arg)".utf8)
        }
        if let fd = r.pidfd { return Array("the process behind pidfd \(fd)".utf8) }
        return Array("an unrecorded target".utf8)
    }

    /// `pid 4242 (java)`, or `pid 4242` without a name; the name's bytes as logged.
    static func process(_ pid: Int64?, _ comm: [UInt8]?) -> [UInt8] {
        Array("pid \(pid.map(String.init) ?? "?")".utf8) + (comm.map { Array(" (".utf8) + $0 + Array(")".utf8) } ?? [])
    }

    static func details(_ r: SignalRow, _ ctx: Context) -> String {
        var out = ""
        func field(_ name: String, _ value: String) { out += "  " + name.padded(to: 10) + value + "\n" }
        var sender = "pid \(r.senderPid.map(String.init) ?? "?")"
        if let c = r.senderComm { sender += " (\(SafeText.escape(c)))" }
        if let e = r.senderExe { sender += " " + SafeText.escape(e) }
        field("sent by", sender)
        if let cmd = r.senderCmdline { field("command", SafeText.escape(cmd)) }
        field("user", user(r, ctx))
        var session = "session \(id(r.senderSes))"
        session += ", tty " + (r.senderTty.map { SafeText.escape($0) } ?? "none")
        if let ppid = r.senderPpid { session += ", parent pid \(ppid)" }
        field("context", session)
        var via = "\(r.syscall)("
        switch r.syscall {
        case "tgkill", "rt_tgsigqueueinfo": via += "\(r.tgidArg.map(String.init) ?? "?"), \(r.targetArg.map(String.init) ?? "?")"
        case "pidfd_send_signal": via += "pidfd \(r.pidfd.map(String.init) ?? "?")"
        default: via += r.targetArg.map(String.init) ?? "?"
        }
        via += ", \(r.signalName ?? "?")) on \(r.arch): "
        via += r.success == false ? "failed, \(r.errno ?? "exit \(r.exit.map(String.init) ?? "?")")" : "delivered"
        field("via", via)
        if let uid = r.targetUid {
            field("target", "uid \(name(uid, r.targetUidName, ctx)), login uid \(name(r.targetAuid, r.targetAuidName, ctx)), session \(id(r.targetSes))")
        }
        var event = "audit event \(r.eventID)"
        if let node = r.node { event += " on node \(SafeText.escape(node))" }
        if let key = r.key { event += ", rule key \(SafeText.escape(key))" }
        field("evidence", event)
        return out
    }

    static func user(_ r: SignalRow, _ ctx: Context) -> String {
        var s = "uid \(name(r.senderUid, r.senderUidName, ctx))"
        if r.senderEuid != r.senderUid { s += ", euid \(name(r.senderEuid, r.senderEuidName, ctx))" }
        s += ", login uid \(name(r.senderAuid, r.senderAuidName, ctx))"
        return s
    }

    /// `0 (root)` from the log's own ENRICHED names; `1000 (alice, resolved here)` when
    /// looked up on this host, which may not be the host that logged it.
    static func name(_ uid: Int64?, _ logged: [UInt8]?, _ ctx: Context) -> String {
        guard let uid else { return "?" }
        if uid == 4294967295 { return "unset" }
        if let logged { return "\(uid) (\(SafeText.escape(logged)))" }
        if let local = ctx.users(uid) { return "\(uid) (\(SafeText.line(local)), resolved here)" }
        return String(uid)
    }

    static func id(_ v: Int64?) -> String {
        guard let v else { return "?" }
        return v == 4294967295 ? "unset" : String(v)
    }

    static func row(for r: SignalRow, _ ctx: Context, reference: SignalRow) -> [Cell] {
        var targetText = targetBytes(r)
        if let p = r.targetPid, p == reference.targetPid, r.targetComm != reference.targetComm {
            targetText += Array(" [another process with this pid]".utf8)
        }
        return [.text(Array(Clock.local(r.eventTime, ctx.timeZone).utf8)), .text(Array((r.signalName ?? "?").utf8)),
                .text(targetText), .text(process(r.senderPid, r.senderComm)), r.senderCmdline.map(Cell.text) ?? .null,
                .text(Array((r.success == false ? "failed \(r.errno ?? "")" : "delivered").utf8))]
    }

    static func notes(_ answer: WhoAnswer, _ ctx: Context) -> String {
        var out = ""
        if answer.truncated { out += "More matches exist: raise --limit to see them.\n" }
        if answer.hiddenFailed > 0 {
            out += "\(answer.hiddenFailed) failed attempt\(answer.hiddenFailed == 1 ? " is" : "s are") not shown: add --include-failed.\n"
        }
        if answer.hiddenProbes > 0 {
            out += "\(answer.hiddenProbes) liveness probe\(answer.hiddenProbes == 1 ? "" : "s") (signal 0) not shown: add --include-probes.\n"
        }
        if !answer.hiddenKernelKills.isEmpty {
            let n = answer.hiddenKernelKills.count
            let names = Array(Set(answer.hiddenKernelKills)).sorted().joined(separator: ", ")
            out += "\(n) kill\(n == 1 ? "" : "s") by the kernel with another signal (\(SafeText.line(names))) \(n == 1 ? "is" : "are") not shown: add --signal all.\n"
        }
        for o in answer.oomdKills {
            out += "systemd-oomd killed every process of the cgroup \(o.cgroup.map { SafeText.escape($0) } ?? "?") at \(Clock.local(o.eventTime, ctx.timeZone))"
            if let r = o.reason { out += " (" + SafeText.line(r) + ")" }
            out += "; it names no process: was the target in that cgroup?\n"
        }
        if answer.coverage.firstEventTime == nil && answer.kernelCoverage.everRead {
            out += "Searched: no audit logs, so no signal a process sent is on record (is auditd running? `killdb ingest` reads /var/log/audit).\n"
        } else {
            out += coverage(answer.coverage, ctx)
        }
        if answer.timeline.isEmpty || answer.kernelCoverage.everRead {
            out += kernelCoverage(answer.kernelCoverage, ctx)
        }
        return out
    }

    /// The kernel log's span, so "no kernel kill" is not mistaken for "the kernel killed nothing".
    public static func kernelCoverage(_ c: KernelLogCoverage, _ ctx: Context) -> String {
        if let first = c.firstTime, let last = c.lastTime {
            return "Kernel log searched (\(c.sources.joined(separator: ", "))): from \(Clock.local(first, ctx.timeZone)) to \(Clock.local(last, ctx.timeZone)), \(c.kills + c.fromAudit) kill\(c.kills + c.fromAudit == 1 ? "" : "s") by the kernel in all.\n"
        }
        if c.everRead {
            return "Kernel log searched (\(c.sources.joined(separator: ", "))), but it held no entries.\n"
        }
        return "Kernel log: never ingested, so the OOM killer and other kills by the kernel cannot be ruled out (`killdb ingest` of this host's logs reads /dev/kmsg as root; --kernel-log reads kern.log or journalctl -k -o json).\n"
    }

    public static func coverage(_ c: DatabaseCoverage, _ ctx: Context) -> String {
        var out = ""
        if let first = c.firstEventTime, let last = c.lastEventTime {
            out += "Searched: logs from \(Clock.local(first, ctx.timeZone)) to \(Clock.local(last, ctx.timeZone)), \(c.signalEvents) signal event\(c.signalEvents == 1 ? "" : "s") in all"
            if let ingest = c.lastIngest { out += "; last ingest \(Clock.local(ingest, ctx.timeZone))" }
            out += ". Nothing before or after that span was read.\n"
        } else {
            out += "Searched: nothing. The database holds no ingested logs: run `killdb ingest`.\n"
        }
        for lost in c.lostEvents {
            out += ctx.yellow("Warning:") + " \(lost.missing) audit event\(lost.missing == 1 ? "" : "s") missing from the logs between \(Clock.local(lost.after, ctx.timeZone)) and \(Clock.local(lost.before, ctx.timeZone))"
            if let n = lost.node { out += " on node \(SafeText.line(n))" }
            out += " (lost or never logged): the answer may be incomplete there.\n"
        }
        return out
    }
}

public enum Clock {
    /// `2026-11-24 20:02:30.123 CET` in `zone`.
    public static func local(_ epoch: Double, _ zone: TimeZone) -> String {
        let date = Date(timeIntervalSince1970: epoch)
        let offset = zone.secondsFromGMT(for: date)
        // Foundation calls UTC "GMT"; operators read UTC.
        let name = offset == 0 && ["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Universal", "Zulu"]
            .contains(zone.identifier) ? "UTC" : (zone.abbreviation(for: date) ?? zone.identifier)
        return stamp(epoch, offset: offset, separator: " ") + " " + name
    }

    /// `YYYY-MM-DD?HH:MM:SS.mmm` of `epoch` shifted by `offset` seconds. Done by hand: a
    /// DateFormatter per line made a report of a hundred kills take a tenth of a second.
    static func stamp(_ epoch: Double, offset: Int, separator: Character) -> String {
        let milliseconds = Int64((epoch * 1000).rounded())
        var seconds = time_t(milliseconds.quotientAndRemainder(dividingBy: 1000).quotient) + time_t(offset)
        var ms = Int(milliseconds % 1000)
        if ms < 0 { ms += 1000; seconds -= 1 }
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(t.tm_year + 1900, 4) + "-" + pad(t.tm_mon + 1, 2) + "-" + pad(t.tm_mday, 2) + String(separator)
            + pad(t.tm_hour, 2) + ":" + pad(t.tm_min, 2) + ":" + pad(t.tm_sec, 2) + "." + pad(Int32(ms), 3)
    }

    /// `2026-11-24T19:02:30.123Z`.
    public static func utc(_ epoch: Double) -> String { Time.iso(epoch) }
}
