import AuditDecoding
import Foundation
import KernelLog
import Queries

/// How untrusted bytes are shown: escaped for a terminal, and in Markdown also made inert.
/// Every string the kernel logged (names, paths, command lines, tty, key, node, user names)
/// was chosen by whoever ran a process.
struct TextStyle: Sendable {
    var value: @Sendable ([UInt8]) -> String
    /// killdb's own words that still come from the database (signal and errno names).
    var word: @Sendable (String) -> String
    /// A space a line wrapper must not break at (`IncidentReport.glue`), or a plain one.
    var glue = " "
    /// How a failure stands out: red on a colour terminal.
    var alarm: @Sendable (String) -> String = { $0 }

    /// A terminal's: `who`, which does not wrap.
    static func terminal(colour: Bool) -> TextStyle {
        TextStyle(value: { SafeText.escape($0) }, word: { SafeText.line($0) },
                  alarm: { colour ? "\u{1b}[1;31m\($0)\u{1b}[0m" : $0 })
    }
    /// The report's text, wrapped at 80 columns.
    static let text = TextStyle(value: { SafeText.escape($0) }, word: { SafeText.line($0) }, glue: IncidentReport.glue)
    static let markdown = TextStyle(value: { MarkdownText.code(SafeText.escape($0), inTable: false) },
                                    word: { MarkdownText.escape(SafeText.line($0)) }, glue: IncidentReport.glue)
    static let markdownTable = TextStyle(value: { MarkdownText.code(SafeText.escape($0), inTable: true) },
                                         word: { MarkdownText.escape(SafeText.line($0)) }, glue: IncidentReport.glue)
}

/// One description of a kill for every output: its headline and its labelled fields (the
/// sender, users, target, syscall, evidence, the kernel's cause), in a `TextStyle`. `who`
/// prints them as a block, `report` wraps them or makes Markdown bullets of them.
enum KillDescription {
    /// `SIGKILL to pid 4242 (java)`, `pid 9 (x) was killed by the kernel's OOM killer: …`;
    /// `at` (the time, when the headline carries it) follows the subject.
    static func headline(_ kill: Kill, _ s: TextStyle, at: String?) -> String {
        let when = at.map { " " + $0 } ?? ""
        switch kill.primary {
        case .signal(let r):
            var line = r.targetPid == nil ? "\(signal(r.signalName, r.signal, s))\(when), \(asked(r))"
                : "\(signal(r.signalName, r.signal, s)) to \(target(r, s, group: kill.group))\(when)"
            if r.success == false { line += ": " + s.alarm("FAILED (\(s.word(r.errno ?? "error")))") }
            return line
        case .kernel(let k):
            return (k.verified ? "" : s.alarm("UNVERIFIED") + ": ") + process(k.pid, k.comm, s) + " \(killedBy(k, kill))\(when): " + cause(k, s)
        case .systemd(let a):
            return (a.verified ? "" : s.alarm("UNVERIFIED") + ": ")
                + "\(signal(a.signalName, a.signal, s)) to \(process(a.pid, a.comm, s))\(when) from systemd (PID 1)"
        case .traced(let t):
            var line = "\(s.word(t.signalName)) to \(process(t.targetPid, t.targetComm, s))\(when)"
            if t.result != "delivered" { line += ": " + s.alarm(s.word(t.result.uppercased())) }
            return line
        }
    }

    /// The kill's fields, label and value; `time` first when given (the headline lacks it).
    static func fields(_ kill: Kill, _ s: TextStyle, users: UserNames, time: String?) -> [(String, String)] {
        var out: [(String, String)] = time.map { [("time", $0)] } ?? []
        switch kill.primary {
        case .signal(let r):
            out += fields(r, s, users, traced: kill.traced)
            if !kill.group.isEmpty {
                out.append(("reached", ([r] + kill.group).map { process($0.targetPid, $0.targetComm, s) }.joined(separator: ", ")))
            }
            if let line = instance(kill, r) { out.append(("process", line)) }
            if let t = kill.traced, t.cause != "syscall" || t.result != "delivered" {
                out.append(("kernel", TracedSignalWords.sentence(t, initKill: kill.initKill, named: s.value)))
            }
            if r.senderPid == 1 { out.append(("systemd", systemd(kill.journal, s))) }
            if let c = kill.processes { out += ProcessContextText.fields(c, eventTime: r.eventTime, s) }
        case .traced(let t):
            out += fields(t, initKill: kill.initKill, s, users, places: ProcessContextText.places(kill, t, s))
            if let c = kill.processes {
                // The teardown's sender is the init, whose killer the cause already names.
                out += ProcessContextText.fields(c, eventTime: t.eventTime, s).filter { label, _ in
                    label != "target in" && !(t.cause == "pidns-teardown" && label == "chain")
                        && !(t.cause == "cgroup-kill" && label == "sender in")
                }
            }
        case .kernel(let k):
            out.append(("signal", "\(s.word(k.signalName ?? "?")), from the kernel itself: no process sent it"))
            if let c = k.cgroup {
                var line = s.value(c)
                if let l = k.limitCgroup, l != c { line += " (the limit hit was \(s.value(l))'s)" }
                out.append(("cgroup", line))
            }
            if let c = k.constraint, c != "CONSTRAINT_MEMCG" { out.append(("constraint", s.word(c))) }
            if let d = k.details { out.append((k.kind == .seccomp ? "seccomp" : "memory", s.value(Array(d.utf8)))) }
            if let e = k.exe { out.append(("exe", s.value(e))) }
            if let uid = k.uid { out.append(("user", "uid \(name(uid, nil, s, users))")) }
            var evidence = source(k.source)
            if !k.verified { evidence += ", " + unverified(kernel: true) }
            if let m = k.message { evidence += ": " + s.value(m) }
            if let n = k.node { evidence += " on node " + s.value(n) }
            if kill.traced != nil { evidence += "; and the kernel tracer's record (signal:signal_generate)" }
            out.append(("evidence", evidence))
            if let a = kill.ended, let m = a.message {
                out.append(("ended", "by \(s.word(a.signalName ?? "the signal")): the kernel logged the process's end (ANOM_ABEND): " + s.value(m)))
            } else if onlyAThread(k, kill) {
                out.append(("ended", "not on record: SECCOMP_RET_KILL_THREAD ends the thread that made the call, alone while others live "
                            + "(no signal, no ANOM_ABEND); for its last thread, kernels since 4.11 send the process SIGSYS and log an "
                            + "ANOM_ABEND, and neither is on record"))
            }
            if let t = kill.traced { out.append(("kernel", TracedSignalWords.sentence(t, initKill: nil, named: s.value))) }
        case .systemd(let a):
            let from = a.verified ? "the journal" : "a syslog file's systemd[1] line, " + unverified(kernel: false)
            out += [("unit", a.unit.map(s.value) ?? "?"), ("why", reason(a, s)),
                    ("evidence", from + " (no audit record of this signal)" + (a.node.map { " on node " + s.value($0) } ?? ""))]
        }
        return out
    }

    /// A signal row's fields: the sender, its users and session, the syscall, the target's
    /// users, the audit event.
    /// With the tracer's record of the same kill: its outcome, and the command line read from
    /// the sender's memory at the event (audit's PROCTITLE is cached before an execve).
    static func fields(_ r: SignalRow, _ s: TextStyle, _ users: UserNames, traced t: TracedSignalRow? = nil) -> [(String, String)] {
        var out: [(String, String)] = [("sent by", sender(r, s))]
        if let argv = t?.senderCmdline, !argv.isEmpty {
            var line = s.value(argv)
            if let cmd = r.senderCmdline, cmd != argv { line += " (audit's PROCTITLE, cached before an execve: \(s.value(cmd)))" }
            out.append(("command", line))
        } else if let cmd = r.senderCmdline {
            if r.commandLineFitsExecutable {
                out.append(("command", s.value(cmd)))
            } else {
                // The kernel keeps the first command line it audits across execve: not this program's.
                let program = r.senderExe.map(s.value) ?? r.senderComm.map(s.value) ?? "its program"
                out.append(("command", "not on record: the command line logged (\(s.value(cmd))) was recorded earlier in "
                            + "the process's life, before it ran \(program) (the kernel keeps the first one it audits)"))
            }
        }
        out.append(("user", user(r, s, users)))
        var session = "session \(id(r.senderSes)), tty " + (r.senderTty.map(s.value) ?? "none")
        if let ppid = r.senderPpid { session += ", parent pid \(ppid)" }
        out.append(("context", session))
        var via = "\(s.word(r.syscall))("
        switch SignalSyscall(rawValue: r.syscall) {
        case .tgkill?, .rt_tgsigqueueinfo?: via += "\(r.tgidArg.map(String.init) ?? "?"), \(r.targetArg.map(String.init) ?? "?")"
        case .pidfd_send_signal?: via += "pidfd \(r.pidfd.map(String.init) ?? "?")"
        case .kill?, .tkill?, .rt_sigqueueinfo?, nil: via += r.targetArg.map(String.init) ?? "?"
        }
        via += ", \(signal(r.signalName, r.signal, s))) on \(s.word(r.arch)): "
        via += r.success == false ? "failed, " + s.word(r.errno ?? "exit \(r.exit.map(String.init) ?? "?")")
            : t.map { s.word(TracedSignalWords.result($0)) } ?? outcome(r)
        if let numbers = addressed(r) { via += "; " + numbers }
        out.append(("via", via))
        if let uid = r.targetUid {
            out.append(("target", "uid \(name(uid, r.targetUidName, s, users)), login uid \(name(r.targetAuid, r.targetAuidName, s, users)), session \(id(r.targetSes))"))
        }
        var event = "audit event \(r.eventID)"
        if let node = r.node { event += " on node \(s.value(node))" }
        if let key = r.key { event += ", rule key \(s.value(key))" }
        // The raw records, one paste away; in UTC (TZ=UTC unless that is ausearch's zone anyway).
        // Glued, so the report's wrapping never breaks the command a paste needs whole.
        event += "; " + AusearchCommand.forEvent(serial: r.serial, time: r.eventTime,
                                                 node: r.node.map { String(decoding: $0, as: UTF8.self) },
                                                 zone: TimeZone(identifier: "UTC")!, localZone: nil)
            .split(separator: " ").joined(separator: s.glue)
        if t != nil { event += "; and the kernel tracer's record (signal:signal_generate)" }
        out.append(("evidence", event))
        return out
    }

    /// A kill only the tracer saw: the cause in words, the sender as the kernel knew it.
    static func fields(_ t: TracedSignalRow, initKill: TracedSignalRow?, _ s: TextStyle, _ users: UserNames,
                       places: TracedSignalWords.Places = .init()) -> [(String, String)] {
        var out: [(String, String)] = [("cause", TracedSignalWords.sentence(t, initKill: initKill, named: s.value, places: places))]
        var sender = process(t.senderPid, t.senderComm, s)
        if t.senderTid != t.senderPid { sender += ", thread \(t.senderTid)" }
        if let e = t.senderExe { sender += " " + s.value(e) }
        if t.senderKthread { sender += " (a kernel thread)" }
        out.append(("sent by", sender))
        if let argv = t.senderCmdline, !argv.isEmpty { out.append(("command", s.value(argv))) }
        if let uid = t.senderUid {
            var user = "uid \(name(uid, nil, s, users))"
            if let e = t.senderEuid, e != uid { user += ", euid \(name(e, nil, s, users))" }
            if let a = t.senderAuid { user += ", login uid \(name(a, nil, s, users))" }
            out.append(("user", user))
        }
        if let ppid = t.senderPpid {
            out.append(("context", "parent pid \(ppid)" + (t.senderParentComm.map { " (\(s.value($0)))" } ?? "")))
        }
        out.append(("outcome", s.word(TracedSignalWords.result(t))))
        var evidence = "the kernel tracer (signal:signal_generate), si_code \(t.siCode)"
        evidence += t.processDirected ? ", to the process" : ", to thread \(t.targetTid)"
        if let n = t.node { evidence += " on node " + s.value(n) }
        out.append(("evidence", evidence + "; no audit record of this signal"))
        return out
    }

    /// systemd-oomd's kill of a whole cgroup, as a sentence (the caller ends it).
    static func cgroupKill(_ a: SystemdKillRow, _ s: TextStyle, at time: String) -> String {
        var line = "systemd-oomd killed every process of the cgroup \(a.cgroup.map(s.value) ?? "?") at \(time)"
        if let r = a.reason { line += " (" + s.word(r) + ")" }
        if !a.verified { line += "; " + s.alarm("UNVERIFIED") + ": read from a syslog file, where any user can write a systemd-oomd line" }
        return line
    }

    // MARK: pieces

    static func signal(_ name: String?, _ number: Int64?, _ s: TextStyle) -> String {
        if let name { return s.word(name) }
        return number.map { "signal \($0)" } ?? "signal ?"
    }

    /// `pid 4242 (java)`, `thread 19141 (w2) of pid 19139`, or what the sender asked for
    /// when no process was reached; a process group's kill with the processes it reached.
    static func target(_ r: SignalRow, _ s: TextStyle, group: [SignalRow] = []) -> String {
        guard let pid = r.targetPid else { return asked(r) }
        if !group.isEmpty, let g = groupName(r.aim) {
            let n = group.count + 1
            return "\(g), which reached \(n) process\(n == 1 ? "" : "es")"
        }
        switch r.aim {
        case .thread(let tid): return "thread \(tid)" + (r.targetComm.map { " (\(s.value($0)))" } ?? "") + " of pid \(pid)"
        case .namespacedThread: return "a thread" + (r.targetComm.map { " (\(s.value($0)))" } ?? "") + " of pid \(pid)"
        default: return process(pid, r.targetComm, s)
        }
    }

    static func groupName(_ aim: SignalAim) -> String? {
        switch aim {
        case .group(let g): return "process group \(g)"
        case .everyProcess: return "every process it may signal (pid -1)"
        case .ownGroup: return "its own process group (pid 0)"
        default: return nil
        }
    }

    /// What the sender asked for when no OBJ_PID names a process: numbers of the sender's
    /// own pid namespace, which need not be any host process's (never matched to one).
    static func asked(_ r: SignalRow) -> String {
        let reached = r.success == false ? "no process was reached" : "no process reached is on record"
        switch SignalSyscall(rawValue: r.syscall) {
        case .tgkill?, .rt_tgsigqueueinfo?:
            if let tid = r.targetArg, let tgid = r.tgidArg, tid != tgid {
                return "asked for thread \(tid) of pid \(tgid) in its own pid namespace; "
                    + (r.success == false ? "no thread was reached" : "no thread reached is on record")
            }
        case .tkill?:
            if let tid = r.targetArg { return "asked for thread \(tid) in its own pid namespace; " + reached }
        default: break
        }
        return "asked for " + requested(r.targetArg, r.pidfd) + (r.pidfd == nil ? " in its own pid namespace" : "") + "; " + reached
    }

    /// Which process with its pid the answer is about, when the log shows the pid was used
    /// before: the kills that ended earlier ones.
    static func instance(_ kill: Kill, _ r: SignalRow) -> String? {
        guard let last = kill.earlierEnds.last, let pid = r.targetPid else { return nil }
        let n = kill.earlierEnds.count
        let how = last.byKernel ? "the kernel's kill at \(Clock.utc(last.time)) ended the process that had it before"
            : "a SIGKILL the kernel accepted at \(Clock.utc(last.time)) most likely ended the process that had it before"
        var line = "not the first with pid \(pid) on record: \(how)"
        if n > 1 { line += " (\(n) such ends on record)" }
        return line + "; --before \(Clock.utc(last.time)) asks about earlier ones"
    }

    /// The outcome audit can tell without the tracer: the kernel accepted the signal (the
    /// call returned 0), which a zombie or an init that ignores it still does.
    static func outcome(_ r: SignalRow) -> String {
        r.success == nil ? "no result logged (the sender did not return from the call)" : "accepted"
    }

    /// When the syscall's numbers are not the host pid OBJ_PID gives: what they named.
    static func addressed(_ r: SignalRow) -> String? {
        switch r.aim {
        case .namespaced(let p): return "pid \(p) in the sender's pid namespace"
        case .namespacedThread(let p, let t): return "pid \(p), thread \(t) in the sender's pid namespace"
        case .thread(let t): return "thread \(t) of pid \(r.targetPid.map(String.init) ?? "?")"
        case .group(let g): return "process group \(g)"
        default: return nil
        }
    }

    /// `pid 4242 (java)`, or `pid 4242` without a name.
    static func process(_ pid: Int64?, _ comm: [UInt8]?, _ s: TextStyle) -> String {
        "pid \(pid.map(String.init) ?? "?")" + (comm.map { " (\(s.value($0)))" } ?? "")
    }

    /// What the sender asked for when no process was reached.
    static func requested(_ arg: Int64?, _ pidfd: Int64?) -> String {
        if let arg {
            if arg == -1 { return "every process it may signal (pid -1)" }
            if arg < -1 { return "process group \(-arg)" }
            return "pid \(arg)"
        }
        if let pidfd { return "the process behind pidfd \(pidfd)" }
        return "an unrecorded target"
    }

    static func sender(_ r: SignalRow, _ s: TextStyle) -> String {
        // A process that signalled itself (abort(), raise(), a watchdog in the same process).
        var out = r.senderPid != nil && r.senderPid == r.targetPid ? "the target itself: " : ""
        out += "pid \(r.senderPid.map(String.init) ?? "?")"
        if let c = r.senderComm { out += " (\(s.value(c)))" }
        if let e = r.senderExe { out += " " + s.value(e) }
        return out
    }

    static func user(_ r: SignalRow, _ s: TextStyle, _ users: UserNames) -> String {
        var out = "uid \(name(r.senderUid, r.senderUidName, s, users))"
        if r.senderEuid != r.senderUid { out += ", euid \(name(r.senderEuid, r.senderEuidName, s, users))" }
        return out + ", login uid \(name(r.senderAuid, r.senderAuidName, s, users))"
    }

    /// `0 (root)` from the log's own ENRICHED names; `1000 (alice, resolved here)` when
    /// looked up on this host, which may not be the host that logged it.
    /// An ENRICHED log's `unknown(4242)` is the logging host saying it knows no such user:
    /// said in words, not repeated (`4242 (unknown(4242))`).
    static func name(_ uid: Int64?, _ logged: [UInt8]?, _ s: TextStyle, _ users: UserNames) -> String {
        guard let uid else { return "?" }
        if uid == AuditField.unsetID { return "unset" }
        let unknownThere = logged == Array("unknown(\(uid))".utf8)
        if let logged, !unknownThere { return "\(uid) (\(s.value(logged)))" }
        let g = s.glue
        switch (unknownThere, users(uid)) {
        case (true, let local?): return "\(uid) (no such user on the logging host; \(s.value(Array(local.utf8)))\(g)here)"
        case (true, nil): return "\(uid) (no such user on the logging host)"
        case (false, let local?): return "\(uid) (\(s.value(Array(local.utf8))),\(g)resolved\(g)here)"
        case (false, nil): return String(uid)
        }
    }

    /// A session id, or `unset`.
    static func id(_ v: Int64?) -> String {
        guard let v else { return "?" }
        return v == AuditField.unsetID ? "unset" : String(v)
    }

    /// `was killed by the kernel's OOM killer`, as a verb phrase.
    static func killedBy(_ k: KernelKillRow, _ kill: Kill? = nil) -> String {
        switch k.kind {
        case .oom, .memcgOOM: return "was killed by the kernel's OOM killer"
        case .seccomp: return kill.map { onlyAThread(k, $0) } == true ? "had a thread killed by a seccomp filter" : "was killed by a seccomp filter"
        case .abend: return "was ended by the kernel with \(k.signalName ?? "a fatal signal")"
        }
    }

    /// Why the kernel killed, in a few words.
    static func cause(_ k: KernelKillRow, _ s: TextStyle) -> String {
        switch k.kind {
        case .memcgOOM:
            if let c = k.limitCgroup ?? k.cgroup { return "memory cgroup \(s.value(c)) exceeded its limit" }
            return s.word("a memory cgroup exceeded its limit")
        case .oom:
            switch k.constraint {
            case "CONSTRAINT_CPUSET": return s.word("its cpuset ran out of memory")
            case "CONSTRAINT_MEMORY_POLICY": return s.word("its memory policy's nodes ran out of memory")
            default: return s.word("the system ran out of memory")
            }
        case .seccomp:
            // details is `arch=i386 syscall=getpgid code=kill` (ausearch -i's words) since
            // libaudit names them; databases of older killdb hold `syscall 132, action 0x0`.
            let w = seccompWords(k.details)
            let call = w["syscall"] ?? k.syscall.map(String.init) ?? "?"
            var line = "it made syscall \(call)" + (w["arch"].map { " (\($0))" } ?? "") + ", which the filter forbids"
            switch seccompCode(k).map({ $0 & 0xffff_0000 }) {
            case 0x8000_0000?: line += " (SECCOMP_RET_KILL_PROCESS)"
            case 0?: line += " (SECCOMP_RET_KILL_THREAD)"
            default: if let a = w["code"] { line += " (action \(a))" }
            }
            return s.word(line)
        case .abend: return s.word("a fatal signal it did not handle (the kernel logged a core dump)")
        }
    }

    /// The SECCOMP record's `code` (the filter's return value: action and data), as logged:
    /// libauparse names 0x80000000 (KILL_PROCESS) and 0x0 (KILL_THREAD) both `kill`.
    static func seccompCode(_ k: KernelKillRow) -> UInt32? {
        guard let m = k.message, let r = m.firstRange(of: " code=0x") else { return nil }
        let hex = m[r.upperBound...].prefix { $0 != 0x20 }
        return UInt32(String(decoding: hex, as: UTF8.self), radix: 16)
    }

    /// A SECCOMP_RET_KILL_THREAD with no sign the process died: the kernel ends the thread
    /// alone (do_exit) when others live, sending no signal and logging no ANOM_ABEND; for
    /// the last thread, since 4.11, it sends the process SIGSYS, which dumps core (ANOM_ABEND).
    /// Older kernels ended a last thread with no ABEND either: so "a thread", not "only".
    static func onlyAThread(_ k: KernelKillRow, _ kill: Kill) -> Bool {
        guard k.kind == .seccomp, let code = seccompCode(k), code & 0xffff_0000 == 0 else { return false }
        return kill.ended == nil && kill.traced == nil
    }

    /// The `name=value` words of a seccomp kill's details; none for the older form.
    static func seccompWords(_ details: String?) -> [String: String] {
        var out: [String: String] = [:]
        for word in (details ?? "").split(separator: " ") {
            guard let eq = word.firstIndex(of: "=") else { return [:] }
            out[String(word[..<eq])] = String(word[word.index(after: eq)...])
        }
        return out
    }

    /// Why a kill read only from syslog or dmesg text is no evidence on its own.
    static func unverified(kernel: Bool) -> String {
        kernel ? "unverified: nothing proves the kernel wrote it (any user can write such a line with `logger -t kernel`; /dev/kmsg or the journal would prove it)"
            : "unverified: nothing proves PID 1 wrote it (any user can write such a line with `logger -t 'systemd[1]'`; the journal would prove it)"
    }

    static func source(_ s: KernelLogSource) -> String {
        switch s {
        case .kmsg: return "kernel log (/dev/kmsg)"
        case .journal: return "kernel log (journal)"
        case .syslog: return "kernel log (syslog)"
        case .dmesg: return "kernel log (dmesg output)"
        case .audit: return "audit log"
        }
    }

    /// What PID 1 sending a signal means: the journal's unit and reason when known.
    static func systemd(_ journal: SystemdKillRow?, _ s: TextStyle) -> String {
        guard let j = journal else {
            return "PID 1 sends this when a unit's stop times out, or on `systemctl kill`; the journal names the unit (killdb ingest --journal)"
        }
        return (j.unit.map { s.value($0) + ": " } ?? "") + reason(j, s) + (j.verified ? "" : " (" + unverified(kernel: false) + ")")
    }

    static func reason(_ a: SystemdKillRow, _ s: TextStyle) -> String {
        if let r = a.reason { return s.word(r) }
        return s.word("systemd stopped or killed the unit (systemctl stop or kill, or a dependency); the journal names no timeout")
    }
}

extension JSON {
    /// A kernel kill's members, the `kernel_kills` view's columns; its kind named `kind`.
    static func members(_ k: KernelKillRow, kind: String = "kind") -> [(String, String)] {
        [("node", nullable(k.node)), ("event_time", value(.real(k.eventTime))), (kind, string(k.kind.rawValue)),
         ("reason", string(k.reason)), ("pid", nullable(k.pid)), ("comm", nullable(k.comm)), ("exe", nullable(k.exe)),
         ("uid", nullable(k.uid)), ("signal", nullable(k.signal)), ("signal_name", nullable(k.signalName)),
         ("cgroup", nullable(k.cgroup)), ("limit_cgroup", nullable(k.limitCgroup)), ("constraint", nullable(k.constraint)),
         ("syscall", nullable(k.syscall)), ("details", nullable(k.details)), ("source", string(k.source.rawValue)),
         ("message", nullable(k.message)), ("verified", k.verified ? "true" : "false")]
    }

    /// A systemd action's members, the `systemd_kills` view's columns; its kind named `kind`.
    static func members(_ a: SystemdKillRow, kind: String = "kind") -> [(String, String)] {
        [("node", nullable(a.node)), ("event_time", value(.real(a.eventTime))), (kind, string(a.kind.rawValue)),
         ("unit", nullable(a.unit)), ("pid", nullable(a.pid)), ("comm", nullable(a.comm)), ("signal", nullable(a.signal)),
         ("signal_name", nullable(a.signalName)), ("cgroup", nullable(a.cgroup)), ("reason", nullable(a.reason)),
         ("verified", a.verified ? "true" : "false")]
    }
}

extension JSON {
    /// A tracer record's members, the `traced_signals` view's columns.
    static func members(_ t: TracedSignalRow) -> [(String, String)] {
        let b: (Bool) -> String = { $0 ? "1" : "0" }
        let r: (Double?) -> String = { $0.map { value(.real($0)) } ?? "null" }
        return [("node", nullable(t.node)), ("event_time", value(.real(t.eventTime))), ("signal", String(t.signal)),
                ("signal_name", string(t.signalName)), ("si_code", String(t.siCode)),
                ("process_directed", b(t.processDirected)), ("result", string(t.result)), ("cause", string(t.cause)),
                ("cause_detail", nullable(t.causeDetail)), ("cause_pidns", nullable(t.causePidns)),
                ("syscall", nullable(t.syscall)), ("sender_pid", String(t.senderPid)), ("sender_tid", String(t.senderTid)),
                ("sender_start_time", r(t.senderStartTime)), ("sender_comm", nullable(t.senderComm)),
                ("sender_exe", nullable(t.senderExe)), ("sender_cmdline", nullable(t.senderCmdline)),
                ("sender_uid", nullable(t.senderUid)), ("sender_euid", nullable(t.senderEuid)),
                ("sender_auid", nullable(t.senderAuid)), ("sender_ppid", nullable(t.senderPpid)),
                ("sender_parent_comm", nullable(t.senderParentComm)), ("sender_ns_pid", nullable(t.senderNsPid)),
                ("sender_kthread", b(t.senderKthread)), ("target_pid", String(t.targetPid)),
                ("target_tid", String(t.targetTid)), ("target_start_time", r(t.targetStartTime)),
                ("target_comm", nullable(t.targetComm)), ("target_ns_pid", nullable(t.targetNsPid)),
                ("target_pidns", nullable(t.targetPidns))]
    }

    static func nullable(_ b: [UInt8]?) -> String { b.map(string) ?? "null" }
    static func nullable(_ s: String?) -> String { s.map(string) ?? "null" }
    static func nullable(_ v: Int64?) -> String { v.map(String.init) ?? "null" }
    static func string(_ s: String) -> String { string(Array(s.utf8)) }
}
