import Foundation
import GRDB
import KernelLog
import Store

// Where a row becomes an answer. `who` and `report` both answer "what killed this process":
// a timeline of kills, each told by every source that saw it. Each answer is read in one
// read transaction (`Who.answer(q, db)`, `IncidentReportQuery.answer(q, db)`), so its
// rows, counts and coverage are of one moment even while an ingest commits.

/// One source's record of a kill: who sent it, to whom, when, how, with what outcome.
public enum Evidence: Sendable, Equatable {
    /// An audit record of a signal-sending syscall: a process sent the signal.
    case signal(SignalRow)
    /// The kernel's own record of a kill it made (the OOM killer, seccomp, a fatal signal),
    /// from a kernel log or the audit log's SECCOMP / ANOM_ABEND records.
    case kernel(KernelKillRow)
    /// systemd's journal entry about a kill it made (the unit, the stop that timed out).
    case systemd(SystemdKillRow)
    /// The tracer's record (`signal:signal_generate`, the `traced_signals` view): the
    /// kernel's word on every signal, with the true outcome (delivered, ignored, pending),
    /// the cause and the sender's command line read at the event. `KillTimeline.join`
    /// attaches it to the kill it is another record of: an audited syscall (cause syscall:
    /// same node, sender pid, target pid and signal, within a second) or the kernel's OOM
    /// kill (cause oom: same target pid) or a seccomp filter's the audit log's SECCOMP record
    /// tells (cause seccomp: same target pid and signal). A record nothing else saw (cgroup.kill,
    /// pid-namespace teardown, RLIMIT_CPU, parent death) is a kill of its own.
    case traced(TracedSignalRow)

    public var time: Double {
        switch self {
        case .signal(let r): return r.eventTime
        case .kernel(let k): return k.eventTime
        case .systemd(let s): return s.eventTime
        case .traced(let t): return t.eventTime
        }
    }
}

/// One kill, as every source that saw it tells it.
public struct Kill: Sendable, Equatable {
    /// Never empty. The first is the record the kill is known by (its time, its headline);
    /// the others corroborate it (systemd's journal entry for a signal PID 1 sent).
    public private(set) var evidence: [Evidence]

    public init(_ first: Evidence, also: [Evidence] = []) { evidence = [first] + also }

    /// What was read of the sender's parents and of where sender and target lived (the
    /// plugin's /proc reading at the event): context for a signal row, not a record of the kill.
    public var processes: EventContext?

    public var primary: Evidence { evidence[0] }
    public var time: Double { primary.time }

    /// The audit record of the syscall, when a process sent it.
    public var signal: SignalRow? {
        if case .signal(let r) = primary { return r }
        return nil
    }

    /// For a seccomp filter's kill (the audit log's SECCOMP record): the ANOM_ABEND record of
    /// the same process ending by that signal, the kernel's word that the process died (a
    /// SECCOMP_RET_KILL_THREAD of one thread among several ends no process, and has none).
    public var ended: KernelKillRow? {
        for case .kernel(let k) in evidence.dropFirst() { return k }
        return nil
    }

    /// systemd's journal entry corroborating a signal PID 1 sent.
    public var journal: SystemdKillRow? {
        for case .systemd(let s) in evidence.dropFirst() { return s }
        return nil
    }

    /// The tracer's record of this kill: the kill itself, or corroborating another record.
    public var traced: TracedSignalRow? {
        for case .traced(let t) in evidence { return t }
        return nil
    }

    /// For a pid-namespace teardown or a parent-death signal the tracer saw: its record of
    /// the kill of the namespace's init or of the parent, whose exit caused it (read with the
    /// answer, so output needs no I/O).
    public var initKill: TracedSignalRow?
    /// The processes behind `initKill`: who sent the init its signal, and who was behind that.
    public var initKillProcesses: EventContext?

    /// The other processes a process-group kill reached, when the question was the group
    /// (`who --pid=-N`): one kill, not one per member.
    public var group: [SignalRow] = []

    /// Whether this kill reached the process the answer (the first kill) is about, when it
    /// went to the same pid on the same node; nil otherwise, and for the answer itself.
    public var sameProcess: SameProcess?

    /// For the answer: the kills on record that ended earlier processes with its pid, oldest
    /// first (its process is not the first with that pid).
    public var earlierEnds: [ProcessEnd] = []

    mutating func corroborate(_ e: Evidence) { evidence.append(e) }
}

/// Builds an answer's kills from one snapshot; shared by `who` and `report`.
enum KillTimeline {
    enum Order { case newestFirst, oldestFirst }

    /// The kills of the signal rows (in `order`), joined with what else the database holds
    /// about each, and, unless `others` is nil (a question about a sender: the kernel is no
    /// sender), the kills no process sent: the kernel's, and systemd's the journal alone
    /// records. Each kind is cut at `limit` (-1: none); sorted by time in `order`, ties in
    /// the order signal rows, kernel, systemd.
    static func kills(_ db: Database, signals: [SignalRow], others filter: KernelKillQuery.Filter?, limit: Int,
                      order: Order) throws -> [Kill] {
        var kills: [Kill] = []
        kills.reserveCapacity(signals.count)
        // Asked once: a database the tracer never wrote to costs no lookup per kill.
        let traced = try TracedSignalQuery.hasRecords(db)
        for r in signals { kills.append(try join(Kill(.signal(r)), db, traced: traced)) }
        if let filter {
            var kernel = filter.kernelAndSystemd ? try KernelKillQuery.kernelKills(db, filter, limit: limit) : []
            var systemd = filter.kernelAndSystemd ? try KernelKillQuery.standaloneSystemdKills(db, filter, limit: limit) : []
            if order == .oldestFirst {
                kernel.reverse()
                systemd.reverse()
            }
            var unjoined = !traced ? [] : try TracedSignalQuery.unjoined(db, pid: filter.pid, comm: filter.comm, node: filter.node,
                                                        signals: filter.signals, before: filter.before,
                                                        after: filter.after, target: filter.targetPlace,
                                                        sender: filter.senderPlace, limit: limit)
            if order == .oldestFirst { unjoined.reverse() }
            // A seccomp kill's SIGSYS ends the process with a core dump, which audit records
            // as ANOM_ABEND: one kill, the SECCOMP record first (it says why).
            let ends = abends(ofSeccompKills: kernel)
            for (i, k) in kernel.enumerated() where !ends.used.contains(i) {
                var kill = try join(Kill(.kernel(k)), db, traced: traced)
                if let j = ends.of[i] { kill.corroborate(.kernel(kernel[j])) }
                kills.append(kill)
            }
            kills += systemd.map { Kill(.systemd($0)) }
            for t in unjoined {
                var kill = Kill(.traced(t))
                if t.cause == "pidns-teardown" || t.cause == "parent-death", let i = try TracedSignalQuery.initKill(db, for: t) {
                    kill.initKill = i
                    kill.initKillProcesses = try i.recordRowID.flatMap { try ProcessChainQuery.context(db, tracedRecord: $0) }
                }
                kill.processes = try t.recordRowID.flatMap { try ProcessChainQuery.context(db, tracedRecord: $0) }
                kills.append(kill)
            }
        }
        return kills.enumerated().sorted { a, b in
            let x = a.element.time, y = b.element.time
            if x != y { return order == .newestFirst ? x > y : x < y }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// For each seccomp kill of `kernel` (by index), the ANOM_ABEND of the same process and
    /// signal on the same node within a second; `used`: the indices so taken.
    static func abends(ofSeccompKills kernel: [KernelKillRow]) -> (of: [Int: Int], used: Set<Int>) {
        var of: [Int: Int] = [:], used = Set<Int>()
        for (i, k) in kernel.enumerated() where k.kind == .seccomp && k.pid != nil {
            if let j = kernel.indices.first(where: { j in
                let a = kernel[j]
                return !used.contains(j) && a.kind == .abend && a.pid == k.pid && a.signal == k.signal && a.node == k.node
                    && abs(a.eventTime - k.eventTime) <= 1
            }) {
                of[i] = j
                used.insert(j)
            }
        }
        return (of, used)
    }

    /// Attaches the other sources' records of the same kill: for a signal PID 1 sent,
    /// systemd's journal entry of it; the tracer's `signal_generate` record of an audited
    /// syscall, of the kernel's OOM kill, or of a seccomp filter's.
    static func join(_ kill: Kill, _ db: Database, traced: Bool) throws -> Kill {
        var kill = kill
        switch kill.primary {
        case .signal(let r):
            if traced, let t = try TracedSignalQuery.sameKill(db, as: r) { kill.corroborate(.traced(t)) }
            if r.senderPid == 1, let s = try KernelKillQuery.systemdContext(db, for: r) {
                kill.corroborate(.systemd(s))
            }
        case .kernel(let k):
            if traced, k.kind == .oom || k.kind == .memcgOOM, let t = try TracedSignalQuery.oomKill(db, as: k) {
                kill.corroborate(.traced(t))
            }
            if traced, k.kind == .seccomp, let t = try TracedSignalQuery.seccompKill(db, as: k) {
                kill.corroborate(.traced(t))
            }
        case .systemd, .traced: break
        }
        if let r = kill.signal { kill.processes = try ProcessChainQuery.context(db, for: r) }
        // The tracer's reading, made in the kernel at the event, says more than /proc's a
        // moment later: it is preferred when it names the sender's parents.
        if let t = kill.traced, let id = t.recordRowID, let c = try ProcessChainQuery.context(db, tracedRecord: id),
           c.chain.processes.count > 1 || kill.processes == nil {
            var c = c
            if c.target == nil || c.target?.place?.isEmpty != false, let plugin = kill.processes?.target { c.target = plugin }
            kill.processes = c
        }
        return kill
    }
}
