import ArgumentParser
import Foundation
import KillDB
import Tracer
#if canImport(Glibc)
import Glibc
#endif

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Record every signal the kernel generates, whatever sent it (eBPF; runs until stopped).",
        discussion: """
            Audit records the signal *syscalls*. Some kills make none: a write to a cgroup's \
            cgroup.kill (systemd, runc), a pid namespace's teardown when its init exits (every \
            container's pid 1), the OOM killer, the RLIMIT_CPU hard limit. And a kill() that \
            returned 0 may have done nothing: a SIGKILL to a zombie is ignored. `killdb trace` \
            records the kernel's own view, from the signal:signal_generate tracepoint: the \
            sender (the task that was running: pid, thread, name, uids, login session, pid \
            namespace, cgroup, start time, parent), its command line read from its memory at \
            that moment (not audit's PROCTITLE, which can be stale after an execve), the target, \
            the signal, si_code, whether it was delivered, ignored or already pending, and the \
            cause: the syscall, cgroup.kill and which cgroup, the namespace teardown, the OOM \
            killer, a CPU-time limit, seccomp, the parent's death (PR_SET_PDEATHSIG), or another \
            kernel path.

            It runs in the foreground until SIGTERM or SIGINT, then detaches its BPF programs, \
            stores what it still holds and exits 0; `scripts/install` puts a systemd unit \
            (killdb-trace.service) in place. Records are stored in small transactions from a \
            queue, so a busy database never stalls the kernel's ring buffer; records the ring \
            buffer had no room for are counted in the kernel and stored as coverage ("the \
            tracer lost N events between T1 and T2"). The `traced_signals` view holds the \
            records, `trace_coverage` the sessions; `killdb who` and `killdb report` use them.

            With --audit each record is also written as a user-space audit message (type USER, \
            msg='op=killdb-trace-signal ...', through libaudit), with the session's start, a \
            heartbeat and its end: auditd logs them and audisp-remote forwards them, so a \
            collector's `killdb ingest` stores them as traced signals of that host. The kernel \
            names no executable in a USER record, so the tracer also makes the kernel log one \
            that does (a SECCOMP record of a SECCOMP_RET_LOG verdict its own filter gives a \
            marked getppid call) at each of those; ingest trusts only messages of uid 0 whose \
            pid the kernel so named a killdb process within the last minute; others are counted \
            and kept in unverified_trace_messages, never used as evidence.

            Needs root (CAP_BPF and CAP_PERFMON), a kernel with BTF \
            (/sys/kernel/btf/vmlinux, 5.8 or later) and no confidentiality lockdown; without \
            them it says exactly what is missing and exits 5 (`killdb doctor` checks the same). \
            Everything else in killdb works without it.

            Examples:
              killdb trace                          SIGKILL only (the default), database as elsewhere
              killdb trace --signals KILL,TERM,INT  a list: names or numbers
              killdb trace --signals all            every signal but a Go program's SIGURG to itself
              killdb trace --audit                  also as audit messages, for audisp-remote to forward
              killdb sql "SELECT event_time, sender_pid, sender_cmdline, target_pid, result, cause, cause_detail FROM traced_signals ORDER BY event_time DESC LIMIT 20"
            """
    )

    @OptionGroup var database: DatabaseOption

    @Option(help: ArgumentHelp("Signals to record: KILL (default), a list such as KILL,TERM,9, or all.",
                               valueName: "signals"))
    var signals: String = "KILL"

    @Option(help: ArgumentHelp("Seconds a transaction waits for another writer before records stay queued in memory.",
                               valueName: "seconds"))
    var busyTimeout: Double = 1

    @Flag(help: ArgumentHelp("Also write each record as a user-space audit message (libaudit), for auditd to log and audisp-remote to forward; `killdb ingest` on the collector reads them back."))
    var audit = false

    func validate() throws {
        do {
            _ = try SignalFilter.parse(signals)
        } catch {
            throw ValidationError(error.description)
        }
        guard busyTimeout >= 0 else { throw ValidationError("--busy-timeout must be zero or more seconds") }
    }

    func run() throws {
        let filter = try SignalFilter.parse(signals)
        let control = LiveTraceControl()
        SignalPipe.install([SIGTERM, SIGINT]) { _ in control.stop() }
        var options = LiveTraceOptions()
        options.busyTimeout = busyTimeout
        options.audit = audit
        // Every signal can mean 100,000 records a second, 1.5 KB each: a buffer of 32 MiB
        // holds 0.2 s of them while the reader is descheduled; one signal's need no more than 8.
        options.ringBufferBytes = filter.all ? 32 << 20 : 8 << 20
        options.log = { error, message in
            FileHandle.standardError.write(Data("killdb trace: \(message)\n".utf8))
        }
        let status = try LiveTrace.run(databasePath: database.path, filter: filter, options: options, control: control)
        var summary = "killdb trace: stopped: \(status.records) records stored"
        if status.lost > 0 { summary += ", \(status.lost) lost in the kernel (ring buffer full)" }
        if status.dropped > 0 { summary += ", \(status.dropped) dropped in memory (the database was unavailable or could not keep up)" }
        if audit { summary += "; \(status.auditWritten) audit messages written" + (status.auditFailed > 0 ? ", \(status.auditFailed) refused or dropped" : "") }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }
}
