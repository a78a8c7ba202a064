import ArgumentParser
import Foundation
import KillDB
import Output
import Queries
import Store

struct WhoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "who",
        abstract: "Who sent SIGKILL (or another signal) to a process.",
        discussion: """
            Answers by target: the process that received the signal, which `ausearch -p` \
            cannot do (it matches only the sender). The newest matching event comes first, \
            with the sender's pid, command line, executable, user, session and tty, then the \
            earlier candidates. Pids are reused: when an earlier kill hit another process \
            that had the same pid, it is marked.

            Kills no process sent are answered too: the kernel's OOM killer (global or a \
            memory cgroup's, with the cgroup), seccomp, fatal signals, from the kernel log \
            and the audit log; and systemd's, from the journal (the unit whose stop timed \
            out, systemd-oomd). They are ordered by time with the signals processes sent.

            When nothing matches, it says so and what the database covers (audit logs and \
            kernel log), and exits 1: an empty answer is not proof that nobody sent the \
            signal if the logs of that time were never ingested or events were lost.

            --format json gives every entry, newest first, each with a `kind`: "signal" \
            (the `signals` view's columns), "kernel" (the `kernel_kills` view's, its kind \
            as kernel_kind) or "systemd". table and csv give the signal rows only.

            Times (--before, --after): 2026-11-24T19:02:30Z, 2026-11-24T19:02:30+01:00, \
            "2026-11-24 19:02:30" (local), @EPOCH, -10m, "2h ago", and ausearch's now, \
            recent, today, yesterday, this-week, this-month, this-year, boot.

            Examples:
              killdb who 4242                          # SIGKILLs sent to pid 4242
              killdb who java --before "2026-11-24 19:05"
              killdb who --comm 'postgres*' --signal KILL,TERM --after today
              killdb who --sender-comm systemd --signal all --format json
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("The target: a pid, or a process name (glob patterns allowed).", valueName: "target"))
    var target: String?

    @Option(help: ArgumentHelp("Target pid.", valueName: "pid")) var pid: Int64?
    @Option(help: ArgumentHelp("Target process name (comm), glob allowed: 'java*'.", valueName: "pattern")) var comm: String?
    @Option(help: ArgumentHelp(
        "Target executable. The kernel records only the target's name (comm: the first 15 bytes of its executable's file name), so this matches by that name.",
        valueName: "path")) var exe: String?
    @Option(help: ArgumentHelp("Sender executable, glob allowed: '/usr/bin/*'.", valueName: "pattern")) var senderExe: String?
    @Option(help: ArgumentHelp("Sender pid.", valueName: "pid")) var senderPid: Int64?
    @Option(help: ArgumentHelp("Sender process name, glob allowed.", valueName: "pattern")) var senderComm: String?
    @Option(help: ArgumentHelp("The sender's systemd unit (read by the plugin), glob allowed: 'cron.service'.", valueName: "pattern"))
    var senderUnit: String?
    @Option(help: ArgumentHelp("The sender's container id, or its first digits.", valueName: "id")) var senderContainer: String?
    @Option(help: ArgumentHelp("The sender's Kubernetes pod: namespace/name (glob allowed) or UID.", valueName: "pod"))
    var senderPod: String?
    @Option(help: ArgumentHelp("The sender's cgroup path, glob allowed: '/kubepods.slice/*'.", valueName: "pattern"))
    var senderCgroup: String?
    @Option(help: ArgumentHelp("Only events from this node (host name in aggregated logs).", valueName: "name")) var node: String?
    @Option(help: ArgumentHelp("Sender uid.", valueName: "uid")) var uid: Int64?
    @Option(help: ArgumentHelp("Sender login uid (auid).", valueName: "auid")) var auid: Int64?
    @Option(help: ArgumentHelp("Signals: KILL (default), SIGTERM, 15, KILL,TERM, or all.", valueName: "signals"))
    var signal: String = "KILL"
    @Option(help: ArgumentHelp("Only events at or before this time.", valueName: "time")) var before: String?
    @Option(help: ArgumentHelp("Only events at or after this time.", valueName: "time")) var after: String?
    @Option(help: ArgumentHelp("At most this many events, newest first.", valueName: "n")) var limit: Int = 10
    @Flag(help: "Also show attempts that failed (EPERM, ESRCH ...).") var includeFailed = false
    @Flag(help: "Also show liveness probes (kill(pid, 0)).") var includeProbes = false
    @Option(help: "Output: text (the answer first), table, json or csv.") var format: OutputFormat = .text

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        if [target != nil, pid != nil, comm != nil, exe != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give the target once: as the argument, or with one of --pid, --comm, --exe")
        }
    }

    func run() throws {
        var query = SignalQuery()
        if let target {
            if let p = Int64(target) { query.targetPid = p } else { query.targetComm = target }
        }
        if let pid { query.targetPid = pid }
        if let comm { query.targetComm = comm }
        query.senderExe = senderExe
        if let exe {
            // comm is the executable's file name cut to TASK_COMM_LEN - 1 bytes.
            let name = exe.split(separator: "/").last.map(String.init) ?? exe
            query.targetComm = String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
        }
        query.senderPid = senderPid
        query.senderComm = senderComm
        query.senderPlace = PlaceFilter(unit: senderUnit, container: senderContainer, pod: senderPod, cgroup: senderCgroup)
        query.node = node
        query.uid = uid
        query.auid = auid
        query.signals = try SignalSet.parse(signal)
        query.includeProbes = includeProbes || {
            if case .only(let s) = query.signals { return s.contains(0) }
            return false
        }()
        query.includeFailed = includeFailed
        let now = Date()
        query.before = try before.map { try TimeExpression.parse($0, now: now).timeIntervalSince1970 }
        query.after = try after.map { try TimeExpression.parse($0, now: now).timeIntervalSince1970 }
        query.limit = limit

        for name in [query.targetComm, query.senderComm].compactMap({ $0 }) where exe == nil {
            if let kept = SignalQuery.keptName(name) {
                FileHandle.standardError.write(Data("killdb: note: the kernel keeps only \(SignalQuery.commBytes) bytes of a process name: \(SafeText.line(name)) is matched as \(SafeText.line(kept))\n".utf8))
            }
        }
        let store = try openForReading(database.path)
        let answer = try Who.ask(query, in: store)
        switch format {
        case .text:
            print(WhoReport.text(answer, .init(question: question(query), users: LocalUsers.lookup, colour: Terminal.colour, width: Terminal.width())),
                  terminator: "")
        case .table:
            print(Table.render(columns: SignalRow.columns, rows: answer.rows.map(\.cells), width: Terminal.width()),
                  terminator: "")
        case .json:
            print(WhoReport.json(answer))
        case .csv:
            print(CSV.render(columns: SignalRow.columns, rows: answer.rows.map(\.cells)), terminator: "")
        }
        if answer.entries.isEmpty { throw ExitCode(Exit.nothingFound) }
    }

    /// "SIGKILL sent to pid 4242 before ..." for the not-found message.
    func question(_ q: SignalQuery) -> String {
        var s = q.signals.names + " sent"
        if let p = q.targetPid { s += " to pid \(p)" }
        if let c = q.targetComm { s += " to a process named \(SafeText.line(c))" }
        if let p = q.senderPid { s += " by pid \(p)" }
        if let c = q.senderComm { s += " by a process named \(SafeText.line(c))" }
        if let e = q.senderExe { s += " by \(SafeText.line(e))" }
        if let u = q.senderPlace.unit { s += " from unit \(SafeText.line(u))" }
        if let c = q.senderPlace.container { s += " from container \(SafeText.line(c))" }
        if let p = q.senderPlace.pod { s += " from pod \(SafeText.line(p))" }
        if let c = q.senderPlace.cgroup { s += " from cgroup \(SafeText.line(c))" }
        if let a = q.after { s += " after \(Clock.local(a, .current))" }
        if let b = q.before { s += " before \(Clock.local(b, .current))" }
        return s
    }
}

extension OutputFormat: ExpressibleByArgument {}
