import AuditDecoding
import Foundation
import Queries

extension SignalRow {
    /// What who's table, CSV and JSON show of a row: the `signals` view's columns as
    /// `columns` reads them, and the view's last, the event time as ISO 8601 UTC.
    public static let outputColumns = columns + ["event_time_utc"]

    /// The row as cells, in `SignalRow.outputColumns` order.
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
                t(targetComm), t(targetUidName), t(targetAuidName), t(key), t(Clock.utc(eventTime))]
    }
}

/// Resolves a uid to a user name on this host (used when the log was not ENRICHED).
public typealias UserNames = @Sendable (Int64) -> String?

/// This host's user database: I/O, so renderers get it only through their context.
public enum LocalUsers {
    public static let lookup: UserNames = { uid in
        guard uid >= 0, uid < AuditField.unsetID, let pw = getpwuid(uid_t(uid)) else { return nil }
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
        /// The terminal's columns, which the table of earlier candidates fits (`Terminal.width()`);
        /// nil: not a terminal, nothing cut.
        public var width: Int?
        public init(question: String, timeZone: TimeZone = .current, users: @escaping UserNames,
                    colour: Bool = false, width: Int? = nil) {
            self.question = question
            self.timeZone = timeZone
            self.users = users
            self.colour = colour
            self.width = width
        }

        func bold(_ s: String) -> String { colour ? "\u{1b}[1m\(s)\u{1b}[0m" : s }
        func red(_ s: String) -> String { colour ? "\u{1b}[1;31m\(s)\u{1b}[0m" : s }
        func yellow(_ s: String) -> String { colour ? "\u{1b}[33m\(s)\u{1b}[0m" : s }
    }

    public static func text(_ answer: WhoAnswer, _ ctx: Context) -> String {
        var out = ""
        guard let first = answer.entries.first else {
            out += "No \(ctx.question) is on record.\n"
            out += notes(answer, ctx)
            return out
        }
        let style = TextStyle.terminal(colour: ctx.colour)
        let when = "at \(Clock.both(first.time, ctx.timeZone))"
        out += ctx.bold(KillDescription.headline(first, style, at: when)) + "\n"
        for (label, value) in KillDescription.fields(first, style, users: ctx.users, time: nil) {
            out += "  " + label.padded(to: 10) + value + "\n"
        }
        let others = answer.entries.dropFirst()
        if !others.isEmpty {
            out += "\nEarlier candidates, newest first:\n"
            out += Table.render(columns: ["time", "signal", "target", "sender", "command", "result"],
                                rows: others.map { row(for: $0, ctx) }, width: ctx.width,
                                // Time, signal and outcome are never cut; names and command lines are, at
                                // their end (a pid never), the command line first.
                                keep: [0, 1, 5], cutFirst: [4])
        }
        out += notes(answer, ctx)
        return out
    }

    static func row(for kill: Kill, _ ctx: Context) -> [Cell] {
        func text(_ s: String) -> Cell { .text(Array(s.utf8)) }
        let entry = kill.primary
        let time = text(Clock.local(entry.time, ctx.timeZone))
        switch entry {
        case .signal(let r):
            return row(for: r, ctx, sameProcess: kill.sameProcess, group: kill.group)
        case .kernel(let k):
            let sender = k.kind == .memcgOOM ? "kernel: memory cgroup OOM killer"
                : k.kind == .oom ? "kernel: OOM killer" : k.kind == .seccomp ? "kernel: seccomp" : "kernel"
            return [time, text(k.signalName ?? "?"), .text(process(k.pid, k.comm)), text(sender),
                    text(KillDescription.cause(k, .terminal(colour: false))), text("delivered")]
        case .systemd(let s):
            let sig = s.signalName ?? "?"
            return [time, text(sig), .text(process(s.pid, s.comm)), text("pid 1 (systemd)"), .text(s.unit ?? []),
                    text("journal only")]
        case .traced(let t):
            return [time, text(t.signalName), .text(process(t.targetPid, t.targetComm)),
                    .text(process(t.senderPid, t.senderComm)), t.senderCmdline.map(Cell.text) ?? .null,
                    text("\(t.result) (tracer: \(t.cause))")]
        }
    }

    /// `who --format json`: one object, so "no answer" and "no logs of that time" read apart.
    /// `answers` holds every entry, newest first: signal rows carry the `signals` view's
    /// columns, `kind` "signal" and systemd's unit and reason when PID 1 sent them; kernel
    /// rows the `kernel_kills` view's, its `kind` as `kernel_kind`, and `kind` "kernel";
    /// systemd's journal-only kills `kind` "systemd"; the tracer's own `kind` "traced".
    /// Beside them: what was left out, what the audit logs, the kernel log and the tracer
    /// cover, and the lost events. Every time is epoch seconds, with `_utc` ISO 8601 beside it.
    public static func json(_ answer: WhoAnswer, question: String? = nil, after: Double? = nil, before: Double? = nil) -> String {
        func str(_ s: String?) -> String { s.map { JSON.string(Array($0.utf8)) } ?? "null" }
        func bytes(_ b: [UInt8]?) -> String { b.map(JSON.string) ?? "null" }
        func list(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
        let objects = answer.entries.map { kill -> String in
            switch kill.primary {
            case .signal(let r):
                let s = kill.journal
                var members = [("kind", str("signal"))] + zip(SignalRow.outputColumns, r.cells.map(JSON.value)).map { ($0, $1) }
                members += [("systemd_unit", bytes(s?.unit)), ("systemd_reason", str(s.map(systemdReason)))]
                members += honesty(kill, r)
                if let t = kill.traced { members.append(("traced", JSON.object(JSON.timed(JSON.members(t))))) }
                if let c = kill.processes { members += ProcessContextText.json(c) }
                return JSON.object(members)
            case .kernel(let k):
                var members = [("kind", str("kernel"))] + JSON.timed(JSON.members(k, kind: "kernel_kind"))
                if let t = kill.traced { members.append(("traced", JSON.object(JSON.timed(JSON.members(t))))) }
                if let a = kill.ended { members.append(("ended", JSON.object(JSON.timed(JSON.members(a, kind: "kernel_kind"))))) }
                if k.kind == .seccomp { members.append(("only_a_thread", KillDescription.onlyAThread(k, kill) ? "true" : "false")) }
                return JSON.object(members)
            case .systemd(let s):
                return JSON.object([("kind", str("systemd"))] + JSON.timed(JSON.members(s, kind: "systemd_kind")))
            case .traced(let t):
                var members = [("kind", str("traced"))] + JSON.timed(JSON.members(t))
                if let i = kill.initKill {
                    var initMembers = JSON.timed(JSON.members(i))
                    if let c = kill.initKillProcesses { initMembers += ProcessContextText.json(c) }
                    members.append((t.cause == "parent-death" ? "parent_kill" : "init_kill", JSON.object(initMembers)))
                }
                if let c = kill.processes { members += ProcessContextText.json(c) }
                members.append(("cause_chain", ProcessContextText.causeChain(kill, t)))
                return JSON.object(members)
            }
        }
        let c = answer.coverage, k = answer.kernelCoverage, t = answer.traceCoverage
        // The parts of the time asked about (unbounded: all time) outside the ingested logs.
        var uncovered: [(Double?, Double?)] = []
        if let first = c.firstEventTime, let last = c.lastEventTime {
            if (after ?? -Double.infinity) < first { uncovered.append((after, min(first, before ?? first))) }
            if (before ?? Double.infinity) > last { uncovered.append((max(last, after ?? last), before)) }
        } else {
            uncovered.append((after, before))
        }
        let left = answer.leftOut
        let members: [(String, String)] = [
            ("question", str(question)),
            ("after", JSON.time(after)), ("after_utc", JSON.utc(after)),
            ("before", JSON.time(before)), ("before_utc", JSON.utc(before)),
            ("answers", list(objects)),
            ("truncated", answer.truncated ? "true" : "false"),
            ("hidden", JSON.object([
                ("failed", String(left.failed)), ("probes", String(left.probes)),
                ("kernel_kills_by_other_signals", list(left.kernelKillsByOtherSignals.map(str))),
            ])),
            ("cgroup_kills", list(answer.cgroupKills.map { JSON.object(JSON.timed(JSON.members($0))) })),
            ("coverage", JSON.object([
                ("first_event_time", JSON.time(c.firstEventTime)), ("first_event_time_utc", JSON.utc(c.firstEventTime)),
                ("last_event_time", JSON.time(c.lastEventTime)), ("last_event_time_utc", JSON.utc(c.lastEventTime)),
                ("last_ingest", JSON.time(c.lastIngest)), ("last_ingest_utc", JSON.utc(c.lastIngest)),
                ("signal_events", String(c.signalEvents)),
                ("uncovered", list(uncovered.map { JSON.object([("start", JSON.time($0.0)), ("start_utc", JSON.utc($0.0)),
                                                                ("end", JSON.time($0.1)), ("end_utc", JSON.utc($0.1))]) })),
                ("lost_events", list(c.lostEvents.map {
                    JSON.object([("node", str($0.node)), ("after_time", JSON.time($0.after)), ("after_time_utc", JSON.utc($0.after)),
                                 ("before_time", JSON.time($0.before)), ("before_time_utc", JSON.utc($0.before)),
                                 ("missing", String($0.missing))])
                })),
            ])),
            ("kernel_log", JSON.object([
                ("ever_read", k.everRead ? "true" : "false"), ("sources", list(k.sources.map(str))),
                ("first_time", JSON.time(k.firstTime)), ("first_time_utc", JSON.utc(k.firstTime)),
                ("last_time", JSON.time(k.lastTime)), ("last_time_utc", JSON.utc(k.lastTime)),
                ("kernel_kills", String(k.kills + k.fromAudit)),
            ])),
            ("tracer", JSON.object([
                ("ever_ran", t.sessions.isEmpty ? "false" : "true"),
                ("sessions", list(t.sessions.map {
                    JSON.object([("from", JSON.time($0.from)), ("from_utc", JSON.utc($0.from)), ("to", JSON.time($0.to)),
                                 ("to_utc", JSON.utc($0.to)), ("signals", str($0.signals)), ("lost", String($0.lost))])
                })),
                ("losses", list(t.losses.map {
                    JSON.object([("from", JSON.time($0.from)), ("from_utc", JSON.utc($0.from)), ("to", JSON.time($0.to)),
                                 ("to_utc", JSON.utc($0.to)), ("lost", String($0.lost))])
                })),
            ])),
        ]
        return JSON.object(members)
    }

    /// What the row's columns alone do not say: what the sender's numbers named (a thread,
    /// a pid in its own pid namespace), the outcome audit can vouch for, whether the command
    /// line is the sender's, and which process with its pid the kill reached.
    static func honesty(_ kill: Kill, _ r: SignalRow) -> [(String, String)] {
        func int(_ v: Int64?) -> String { v.map(String.init) ?? "null" }
        func str(_ v: String?) -> String { v.map { JSON.string(Array($0.utf8)) } ?? "null" }
        let aim = r.aim
        let (kind, tid, nsPid): (String, Int64?, Int64?) = switch aim {
        case .process: ("process", nil, nil)
        case .thread(let t): ("thread", t, nil)
        case .namespaced(let p): ("process", nil, p)
        case .namespacedThread(let p, let t): ("thread", t, p)
        case .group: ("process_group", nil, nil)
        case .everyProcess: ("every_process", nil, nil)
        case .ownGroup: ("own_process_group", nil, nil)
        case .pidfd: ("pidfd", nil, nil)
        case .unreached: ("none_reached", nil, nil)
        }
        let outcome = r.success == false ? "failed" : kill.traced.map(\.result) ?? (r.success == nil ? "unknown" : "accepted")
        let same: String? = switch kill.sameProcess {
        case .earlier?: "earlier_process"
        case .otherName?: "other_name"
        case .cannotTell?: "cannot_tell"
        case nil: nil
        }
        var out: [(String, String)] = [
            ("target_kind", str(kind)), ("target_thread", int(tid)), ("sender_namespace_pid", int(nsPid)),
            ("outcome", str(outcome)),
            ("sender_cmdline_recorded_earlier", r.senderCmdline == nil ? "null" : r.commandLineFitsExecutable ? "false" : "true"),
            ("same_process", str(same)),
            ("earlier_process_ends", "[" + kill.earlierEnds.map { JSON.value(.real($0.time)) }.joined(separator: ",") + "]"),
        ]
        if !kill.group.isEmpty {
            out.append(("group_targets", "[" + ([r] + kill.group).map { g in
                JSON.object([("target_pid", int(g.targetPid)), ("target_comm", g.targetComm.map(JSON.string) ?? "null")])
            }.joined(separator: ",") + "]"))
        }
        return out
    }

    /// A kill systemd's journal explains: the reason it gives, or what its silence means.
    public static func systemdReason(_ s: SystemdKillRow) -> String {
        KillDescription.reason(s, .terminal(colour: false))
    }

    /// `pid 4242 (java)` with the name's bytes as logged: a table escapes its cells itself,
    /// and text escaped before would be escaped twice there (`\\e`).
    static func targetBytes(_ r: SignalRow, group: [SignalRow] = []) -> [UInt8] {
        guard let pid = r.targetPid else { return Array(KillDescription.asked(r).utf8) }
        if !group.isEmpty, let g = KillDescription.groupName(r.aim) {
            return Array("\(g): \(group.count + 1) processes".utf8)
        }
        switch r.aim {
        case .thread(let tid):
            return Array("thread \(tid)".utf8) + (r.targetComm.map { Array(" (".utf8) + $0 + Array(")".utf8) } ?? [])
                + Array(" of pid \(pid)".utf8)
        case .namespacedThread:
            return Array("a thread".utf8) + (r.targetComm.map { Array(" (".utf8) + $0 + Array(")".utf8) } ?? [])
                + Array(" of pid \(pid)".utf8)
        default:
            return process(pid, r.targetComm)
        }
    }

    /// `pid 4242 (java)`, or `pid 4242` without a name; the name's bytes as logged.
    static func process(_ pid: Int64?, _ comm: [UInt8]?) -> [UInt8] {
        Array("pid \(pid.map(String.init) ?? "?")".utf8) + (comm.map { Array(" (".utf8) + $0 + Array(")".utf8) } ?? [])
    }

    static func row(for r: SignalRow, _ ctx: Context, sameProcess: SameProcess?, group: [SignalRow] = []) -> [Cell] {
        var targetText = targetBytes(r, group: group)
        switch sameProcess {
        case .earlier?: targetText += Array(" [an earlier process with this pid]".utf8)
        case .otherName?: targetText += Array(" [another name: perhaps another process]".utf8)
        case .cannotTell?, nil: break
        }
        return [.text(Array(Clock.local(r.eventTime, ctx.timeZone).utf8)), .text(Array((r.signalName ?? "?").utf8)),
                .text(targetText), .text(process(r.senderPid, r.senderComm)), r.senderCmdline.map(Cell.text) ?? .null,
                .text(Array((r.success == false ? "failed \(r.errno ?? "")" : KillDescription.outcome(r)).utf8))]
    }

    static func notes(_ answer: WhoAnswer, _ ctx: Context) -> String {
        var out = ""
        if answer.truncated { out += "More matches exist: raise --limit to see them.\n" }
        if let pid = answer.entries.first?.signal?.targetPid, answer.entries.contains(where: { $0.sameProcess == .cannotTell }) {
            out += "Earlier signals to pid \(pid) above are not marked: nothing on record ended a process with this pid between them and the answer, so the log cannot tell whether they reached this process or an earlier one with the same pid.\n"
        }
        let left = answer.leftOut
        if left.failed > 0 {
            out += "\(left.failed) failed attempt\(left.failed == 1 ? " is" : "s are") not shown: add --include-failed.\n"
        }
        if left.probes > 0 {
            out += "\(left.probes) liveness probe\(left.probes == 1 ? "" : "s") (signal 0) not shown: add --include-probes.\n"
        }
        if !left.kernelKillsByOtherSignals.isEmpty {
            let n = left.kernelKillsByOtherSignals.count
            let names = Array(Set(left.kernelKillsByOtherSignals)).sorted().joined(separator: ", ")
            out += "\(n) kill\(n == 1 ? "" : "s") by the kernel with another signal (\(SafeText.line(names))) \(n == 1 ? "is" : "are") not shown: add --signal all.\n"
        }
        for o in answer.cgroupKills {
            out += KillDescription.cgroupKill(o, .terminal(colour: false), at: Clock.local(o.eventTime, ctx.timeZone))
            out += "; it names no process: was the target in that cgroup?\n"
        }
        if answer.coverage.firstEventTime == nil && answer.kernelCoverage.everRead {
            out += "Searched: no audit logs, so no signal a process sent is on record (is auditd running? `killdb ingest` reads /var/log/audit).\n"
        } else {
            out += coverage(answer.coverage, ctx)
        }
        if answer.entries.isEmpty || answer.kernelCoverage.everRead {
            out += kernelCoverage(answer.kernelCoverage, ctx)
        }
        for line in traceCoverage(answer.traceCoverage, kills: answer.entries, ctx.timeZone) {
            out += line + "\n"
        }
        // Nothing found, and no source here could have seen a kill no syscall makes (a
        // searched kernel log's line already says so).
        if answer.entries.isEmpty && answer.traceCoverage.sessions.isEmpty && !answer.kernelCoverage.everRead {
            out += Self.neverTraced + "\n"
        }
        return out
    }

    /// Whether the tracer ran at each kill's own time (and traced its signal): a kill the
    /// tracer recorded was covered, whatever the session rows say; one it did not is judged
    /// against each session's reach (`TraceCoverage.Session.reach`, its edges with
    /// tolerance). No kills: as `traceCoverage(_:from:to:_:)` over all time.
    public static func traceCoverage(_ c: TraceCoverage, kills: [Kill], _ zone: TimeZone) -> [String] {
        guard !c.sessions.isEmpty else { return [] }
        guard !kills.isEmpty else { return traceCoverage(c, from: nil, to: nil, zone) }
        var lines: [String] = []
        let uncovered = kills.filter { k in k.traced == nil && !c.covers(k.time, signal: k.signal?.signalName) }
        let covering = c.sessions.filter { s in kills.contains { s.reach.contains($0.time) } }
        if !covering.isEmpty {
            lines.append("Kernel tracer: ran " + covering.map { span($0, zone) }.joined(separator: ", ") + ".")
        }
        for k in uncovered {
            let name = SafeText.line(k.signal?.signalName ?? "that signal")
            if c.sessions.contains(where: { $0.reach.contains(k.time) }) {
                lines.append("Kernel tracer: was not tracing \(name) at \(Clock.local(k.time, zone)): kills by cgroup.kill or a pid-namespace teardown with it are not seen.")
            } else {
                lines.append("Kernel tracer: did not run at \(Clock.local(k.time, zone)): kills by cgroup.kill or a pid-namespace teardown are not seen then.")
            }
        }
        let low = kills.map(\.time).min()!, high = kills.map(\.time).max()!
        for l in c.losses(from: low - TraceCoverage.edgeTolerance, to: high + TraceCoverage.edgeTolerance) {
            lines.append("Warning: the tracer lost \(l.lost) event\(l.lost == 1 ? "" : "s") between \(Clock.local(l.from, zone)) and \(Clock.local(l.to, zone)): kills then may be missing.")
        }
        return lines
    }

    static func span(_ s: TraceCoverage.Session, _ zone: TimeZone) -> String {
        let until = s.finished ? "to \(Clock.local(s.to, zone))" : "until at least \(Clock.local(s.to, zone))"
        return "from \(Clock.local(s.from, zone)) \(until) (\(SafeText.line(s.signals)))"
    }

    /// When the tracer ran, for the time of the answer (`from`...`to`, nil: unbounded):
    /// where it did not, kills audit cannot see are not seen. Nothing when the tracer never
    /// ran on this database (its absence is `killdb doctor`'s to report).
    public static func traceCoverage(_ c: TraceCoverage, from: Double?, to: Double?, _ zone: TimeZone) -> [String] {
        guard !c.sessions.isEmpty else { return [] }
        let low = from ?? -Double.greatestFiniteMagnitude, high = to ?? Double.greatestFiniteMagnitude
        let ran = c.sessions(from: low, to: high)
        var lines: [String] = []
        if ran.isEmpty {
            let when = from == nil && to == nil ? "" : from == to ? " at that time" : " in that time"
            lines.append("Kernel tracer: did not run\(when): kills by cgroup.kill or a pid-namespace teardown are not seen.")
        } else {
            let spans = ran.map { span($0, zone) }
            lines.append("Kernel tracer: ran " + spans.joined(separator: ", ") + ".")
        }
        for l in c.losses(from: low, to: high) {
            lines.append("Warning: the tracer lost \(l.lost) event\(l.lost == 1 ? "" : "s") between \(Clock.local(l.from, zone)) and \(Clock.local(l.to, zone)): kills then may be missing.")
        }
        return lines
    }

    /// An empty answer from a database the tracer never wrote to.
    static let neverTraced = "Kernel tracer: never ran on this database: kills no syscall makes (cgroup.kill, a pid-namespace teardown, RLIMIT_CPU, a parent's death) are on no record here (`killdb trace` records them)."

    /// What neither source can show, so a searched kernel log does not read as complete.
    static let unseenKills = "Neither audit nor the kernel log sees a kill through cgroup.kill or a pid-namespace teardown: `killdb trace` records those."

    /// The kernel log's span, so "no kernel kill" is not mistaken for "the kernel killed nothing".
    public static func kernelCoverage(_ c: KernelLogCoverage, _ ctx: Context) -> String {
        if let first = c.firstTime, let last = c.lastTime {
            return "Kernel log searched (\(c.sources.joined(separator: ", "))): from \(Clock.local(first, ctx.timeZone)) to \(Clock.local(last, ctx.timeZone)), \(c.kills + c.fromAudit) kill\(c.kills + c.fromAudit == 1 ? "" : "s") by the kernel that it logs (OOM, seccomp and the like). " + unseenKills + "\n"
        }
        if c.everRead {
            return "Kernel log searched (\(c.sources.joined(separator: ", "))), but it held no entries. " + unseenKills + "\n"
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
    /// `2026-11-24 20:02:30.123 +01:00 CET` in `zone`, `2026-11-24 19:02:30.123 UTC` in UTC
    /// (`ZoneLabel`): killdb reads either back as that instant.
    public static func local(_ epoch: Double, _ zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: epoch))
        return stamp(epoch, offset: offset, separator: " ") + " " + ZoneLabel.of(zone, at: epoch)
    }

    /// The local time and, unless the zone is UTC itself, the UTC one beside it:
    /// `2026-11-24 20:02:30.123 +01:00 CET (2026-11-24T19:02:30.123Z)`; in UTC the time once.
    public static func both(_ epoch: Double, _ zone: TimeZone) -> String {
        ZoneLabel.isUTC(zone) ? local(epoch, zone) : "\(local(epoch, zone)) (\(utc(epoch)))"
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
