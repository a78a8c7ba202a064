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
            earlier candidates. Pids are reused: a SIGKILL the kernel accepted (or its own \
            kill) ends the process that had a pid, so an earlier signal before such a kill \
            is marked as reaching an earlier process, another name as perhaps another one, \
            and the answer says when the log cannot tell them apart. Without the tracer a \
            kill that returned 0 is "accepted": a zombie, or an init that ignores it, \
            accepts one too.

            A signal to a thread (tgkill, tkill) is found by the thread's id as well as the \
            process's pid and name, and said as "thread T (name) of pid P". The sender's \
            numbers are of its own pid namespace: a kill whose argument is not the host pid \
            says so, and an attempt that reached no process names only what was asked. \
            --pid=-N asks for process group N: each kill(-N) with the processes it reached.

            Kills no process sent are answered too: the kernel's OOM killer (global or a \
            memory cgroup's, with the cgroup), seccomp, fatal signals, from the kernel log \
            and the audit log; and systemd's, from the journal (the unit whose stop timed \
            out, systemd-oomd). They are ordered by time with the signals processes sent.

            When nothing matches, it says so and what the database covers (audit logs and \
            kernel log), and exits 1: an empty answer is not proof that nobody sent the \
            signal if the logs of that time were never ingested or events were lost.

            --format json gives one object: `answers`, every entry newest first, each with \
            a `kind`: "signal" (the `signals` view's columns), "kernel" (the \
            `kernel_kills` view's, its kind as kernel_kind), "systemd" or "traced"; beside \
            them `coverage` (the logs' span, the `uncovered` spans of the time asked about, \
            `lost_events`), `hidden` (failed attempts and probes left out), `kernel_log` \
            and `tracer`. Every time is epoch seconds with ISO 8601 UTC beside it (_utc). \
            table, line and csv give the signal rows only; a table whose rows do not fit \
            the terminal is printed one field per line.

            Times (--after/--since, --before/--until): every time killdb prints \
            ("2026-11-24 19:02:30.514 UTC", 2026-11-24T19:02:30Z); "2026-11-24 19:02:30" \
            (local time; --utc reads and shows UTC), 2026-11-24T19:02:30+01:00, 19:02 \
            (today), @EPOCH, -10m, "2h ago"; ausearch's "11/24/26 19:02:35" (month first; \
            the date and time may also be two words, as ausearch takes them) and its \
            keywords now, recent (10 minutes ago), today, yesterday, this-week, week-ago \
            (midnight 7 days ago), this-month, this-year, boot; journalctl's \
            "yesterday 19:00", "today 08:00", tomorrow.

            --follow (-f) prints each new matching signal event, and each kill by the \
            kernel (OOM killer, seccomp) from the kernel log, as it is stored, by the \
            plugin or a scheduled ingest, one line each (--format json: one JSON object a \
            line), until interrupted, as `journalctl -f` does. It starts from the newest \
            event on record: `killdb who` without it answers for the past.

            Examples:
              killdb who 4242                          # SIGKILLs sent to pid 4242
              killdb who java --before "2026-11-24 19:05"
              killdb who --comm 'postgres*' --signal KILL,TERM --since today
              killdb who --before -10m --uid www-data
              killdb who --sender-comm systemd --signal all --format json
              killdb who --follow --comm 'java*'
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("The target: a pid, or a process name (glob patterns allowed).", valueName: "target"))
    var target: String?

    @Option(help: ArgumentHelp("Target pid, or a thread's id; -N: process group N (--pid=-N).", valueName: "pid")) var pid: Int64?
    @Option(help: ArgumentHelp("Target process name (comm), glob allowed: 'java*'.", valueName: "pattern")) var comm: String?
    @Option(help: ArgumentHelp(
        "Target executable. The kernel records only the target's name (comm: the first 15 bytes of its executable's file name), so this matches by that name.",
        valueName: "path")) var exe: String?
    @Option(help: ArgumentHelp("The target's systemd unit or scope, glob allowed: 'cron.service' (read by the plugin or the tracer).", valueName: "pattern"))
    var unit: String?
    @Option(help: ArgumentHelp("The target's container id, or its first digits.", valueName: "id")) var container: String?
    @Option(help: ArgumentHelp("The target's Kubernetes pod: namespace/name (glob allowed) or UID.", valueName: "pod"))
    var pod: String?
    @Option(help: ArgumentHelp("The target's cgroup path, glob allowed: '/kubepods.slice/*'.", valueName: "pattern"))
    var cgroup: String?
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
    @Option(help: ArgumentHelp("Sender uid: a number, or a user name of this host.", valueName: "user")) var uid: String?
    @Option(help: ArgumentHelp("Sender login uid (auid): a number, or a user name of this host.", valueName: "user"))
    var auid: String?
    @Option(help: ArgumentHelp("Signals: KILL (default), SIGTERM, 15, KILL,TERM, or all.", valueName: "signals"))
    var signal: String = "KILL"
    @Option(name: [.long, .customLong("until")], parsing: .unconditional,
            help: ArgumentHelp("Only events at or before this time (-10m, today, \"2026-11-24 19:02\").", valueName: "time"))
    var before: String?
    @Option(name: [.long, .customLong("since")], parsing: .unconditional,
            help: ArgumentHelp("Only events at or after this time.", valueName: "time"))
    var after: String?
    @Flag(help: "Read and show times in UTC, not the local time zone.") var utc = false
    @Flag(name: .shortAndLong, help: "Print each new matching event as it is stored, until interrupted.") var follow = false
    @Flag(help: "Do not cut tables to the terminal's width (a pager scrolls sideways: less -S).") var wide = false
    @Flag(help: "Do not page the output on a terminal ($KILLDB_PAGER, $PAGER, else less -FRX).") var noPager = false
    @Option(help: ArgumentHelp("At most this many events, newest first.", valueName: "n")) var limit: Int = 10
    @Flag(help: "Also show attempts that failed (EPERM, ESRCH ...).") var includeFailed = false
    @Flag(help: "Also show liveness probes (kill(pid, 0)).") var includeProbes = false
    @Option(help: "Output: text (the answer first), table, line (one field per line), json or csv.") var format: OutputFormat = .text

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        _ = try SignalSet.parse(signal)
        _ = try uid.map { try user($0, option: "--uid") }
        _ = try auid.map { try user($0, option: "--auid") }
        let b = try before.map { try time($0, option: "--before", utc: utc) }
        let a = try after.map { try time($0, option: "--after", utc: utc) }
        if follow {
            if before != nil || after != nil {
                throw ValidationError("--follow prints the events stored from now on; --before and --after do not apply (run killdb who without --follow for the past)")
            }
            guard format == .text || format == .json else {
                throw ValidationError("--follow prints text lines, or JSON lines with --format json")
            }
        }
        if let a, let b, a > b {
            throw ValidationError("--after (\(Clock.local(a, displayZone(utc: utc)))) is later than --before (\(Clock.local(b, displayZone(utc: utc)))): no time is in between. Swap them?")
        }
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
        query.targetPlace = PlaceFilter(unit: unit, container: container, pod: pod, cgroup: cgroup)
        query.node = node
        query.uid = try uid.map { try user($0, option: "--uid") }
        query.auid = try auid.map { try user($0, option: "--auid") }
        query.signals = try SignalSet.parse(signal)
        query.includeProbes = includeProbes || {
            if case .only(let s) = query.signals { return s.contains(0) }
            return false
        }()
        query.includeFailed = includeFailed
        query.before = try before.map { try time($0, option: "--before", utc: utc) }
        query.after = try after.map { try time($0, option: "--after", utc: utc) }
        query.limit = limit

        for name in [query.targetComm, query.senderComm].compactMap({ $0 }) where exe == nil {
            if let kept = SignalQuery.keptName(name) {
                FileHandle.standardError.write(Data("killdb: note: the kernel keeps only \(SignalQuery.commBytes) bytes of a process name: \(SafeText.line(name)) is matched as \(SafeText.line(kept))\n".utf8))
            }
        }
        let store = try openForReading(database.path)
        if follow { try followNew(query, in: store) }
        try requireKnownNode(node, in: store)
        let answer = try Who.ask(query, in: store)
        // Tables fit the terminal unless asked not to; a time, a pid and a signal are never cut.
        if wide { Terminal.columns = nil }
        Pager.start(disabled: noPager)
        switch format {
        case .text:
            print(WhoReport.text(answer, .init(question: question(query), timeZone: displayZone(utc: utc), users: LocalUsers.lookup,
                                               colour: Terminal.colour, width: Terminal.width())),
                  terminator: "")
        case .table, .line:
            // Times, pids and signals are never cut; rows that cannot fit are printed one field per line.
            let columns = SignalRow.outputColumns, rows = answer.rows.map(\.cells), keep = Table.neverCut(columns)
            if format == .line || Terminal.width().map({ !Table.fits(columns: columns, rows: rows, width: $0, keep: keep) }) == true {
                print(Lines.render(columns: columns, rows: rows), terminator: "")
            } else {
                print(Table.render(columns: columns, rows: rows, width: Terminal.width(), keep: keep), terminator: "")
            }
        case .json:
            print(WhoReport.json(answer, question: question(query), after: query.after, before: query.before))
        case .csv:
            print(CSV.render(columns: SignalRow.outputColumns, rows: answer.rows.map(\.cells), escaped: Terminal.isTerminal),
                  terminator: "")
        }
        if answer.entries.isEmpty { throw ExitCode(Exit.nothingFound) }
    }

    /// Polls for events stored after the newest one now, and prints each that matches, until
    /// SIGINT, SIGTERM or a closed pipe (`| head`) ends it: all three are a normal end, exit 0.
    func followNew(_ query: SignalQuery, in store: SignalStore) throws -> Never {
        // A parent may have started us with these blocked (the mask is inherited): unblock.
        var wanted = sigset_t()
        sigemptyset(&wanted)
        for s in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&wanted, s) }
        sigprocmask(SIG_UNBLOCK, &wanted, nil)
        Glibc.signal(SIGINT) { _ in _exit(0) }
        Glibc.signal(SIGTERM) { _ in _exit(0) }
        Glibc.signal(SIGPIPE, SIG_IGN)
        let zone = displayZone(utc: utc)
        var last = try Follow.lastRowID(in: store)
        var lastKernel = try Follow.lastKernelRowID(in: store)
        FileHandle.standardError.write(Data("killdb: following \(question(query)), as stored in \(database.path) (Ctrl-C to stop)\n".utf8))
        while true {
            let (rows, next) = try Follow.rows(after: last, matching: query, in: store)
            for row in rows {
                let line = format == .json ? FollowLine.json(row) : FollowLine.text(row, timeZone: zone)
                if !writeAll(line) { Foundation.exit(Exit.ok) }
            }
            let (kernelKills, nextKernel) = try Follow.kernelKills(after: lastKernel, matching: query, in: store)
            for kill in kernelKills {
                let line = format == .json ? FollowLine.json(kill) : FollowLine.text(kill, timeZone: zone)
                if !writeAll(line) { Foundation.exit(Exit.ok) }
            }
            if next == last && nextKernel == lastKernel {
                if readerGone() { Foundation.exit(Exit.ok) }
                usleep(500_000)
            }
            last = next
            lastKernel = nextKernel
        }
    }

    /// Whether stdout is a pipe whose reader has closed it: seen without writing, so a
    /// follow with nothing new to print still ends when `| head` has had enough.
    func readerGone() -> Bool {
        var p = pollfd(fd: STDOUT_FILENO, events: 0, revents: 0)
        return poll(&p, 1, 0) == 1 && p.revents & Int16(POLLERR | POLLHUP) != 0
    }

    /// Writes straight to stdout, so each event is out as soon as it is found; false once
    /// the reader has gone.
    func writeAll(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            bytes = bytes.dropFirst(n)
        }
        return true
    }

    /// "SIGKILL sent to pid 4242 before ..." for the not-found message.
    func question(_ q: SignalQuery) -> String {
        var s = q.signals.names + " sent"
        if let p = q.targetPid {
            s += p == -1 ? " to every process (pid -1)" : p < 0 ? " to process group \(-p)" : " to pid \(p)"
        }
        if let c = q.targetComm { s += " to a process named \(SafeText.line(c))" }
        if let u = q.targetPlace.unit { s += " to unit \(SafeText.line(u))" }
        if let c = q.targetPlace.container { s += " to container \(SafeText.line(c))" }
        if let p = q.targetPlace.pod { s += " to pod \(SafeText.line(p))" }
        if let c = q.targetPlace.cgroup { s += " to cgroup \(SafeText.line(c))" }
        if let p = q.senderPid { s += " by pid \(p)" }
        if let c = q.senderComm { s += " by a process named \(SafeText.line(c))" }
        if let e = q.senderExe { s += " by \(SafeText.line(e))" }
        if let u = q.senderPlace.unit { s += " from unit \(SafeText.line(u))" }
        if let c = q.senderPlace.container { s += " from container \(SafeText.line(c))" }
        if let p = q.senderPlace.pod { s += " from pod \(SafeText.line(p))" }
        if let c = q.senderPlace.cgroup { s += " from cgroup \(SafeText.line(c))" }
        if let a = q.after { s += " after \(Clock.local(a, displayZone(utc: utc)))" }
        if let b = q.before { s += " before \(Clock.local(b, displayZone(utc: utc)))" }
        return s
    }
}

extension OutputFormat: ExpressibleByArgument {}
