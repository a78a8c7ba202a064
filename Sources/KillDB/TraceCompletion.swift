import Foundation
import KernelTrace
import ProcessContext
import Store

/// Completes the tracer's records from /proc as they arrive, on the thread that drains the
/// ring buffer (the moment after the event, before a parent that is still alive exits):
/// the kernel named the sender's parents (pid, start time, name); /proc adds what each ran
/// (executable, command line) and its cgroups in every hierarchy (the kernel read only the
/// unified one), for those still alive and proven the same process by their start time.
/// The parents past the kernel's depth are read from /proc too. Best effort, and bounded:
/// each process is read once (then reused while it lives), and at most `budget` reads are
/// made per poll, so a storm of signals never slows the draining of the ring buffer.
struct TraceCompletion {
    var reader: ProcReader
    private var cache: [ProcessIdentity: ProcessRecord?] = [:]
    private var cacheOrder: [ProcessIdentity] = []
    private var reads = 0
    var budget = 256

    init(reader: ProcReader = ProcReader(podLogs: nil)) { self.reader = reader }

    /// A new poll: the budget is renewed.
    mutating func newPoll() {
        reads = 0
        last = nil
    }

    mutating func complete(_ records: [TracedSignal], now: Double) -> [TracedSignal] {
        var records = records
        for i in records.indices { complete(&records[i], now: now) }
        return records
    }

    /// The previous record's sender and parents as the kernel gave them, and as completed:
    /// a busy sender's next record has the same (the arrays compare by identity first).
    private var last: (sender: ProcessIdentity, ancestors: [TracedAncestor], truncated: Bool,
                       completed: (cgroup: [UInt8]?, ancestors: [TracedAncestor], truncated: Bool))?

    mutating func complete(_ s: TracedSignal, now: Double) -> TracedSignal {
        var s = s
        complete(&s, now: now)
        return s
    }

    mutating func complete(_ s: inout TracedSignal, now: Double) {
        guard !s.senderIsKernelThread else { return }
        if let l = last, l.sender == s.sender.process, l.truncated == s.ancestryTruncated, l.ancestors == s.ancestors {
            s.senderProcCgroup = l.completed.cgroup
            s.ancestors = l.completed.ancestors
            s.ancestryTruncated = l.completed.truncated
            return
        }
        let given = (s.sender.process, s.ancestors, s.ancestryTruncated)
        if let sender = read(s.sender.process, now: now) { s.senderProcCgroup = sender.cgroup }
        for i in s.ancestors.indices {
            guard let p = read(s.ancestors[i].process, now: now) else { continue }
            s.ancestors[i].procCgroup = p.cgroup
            s.ancestors[i].readAt = p.readAt
            // Another name than the kernel's at the event: it ran execve since (a shell
            // whose last command replaces it), and /proc shows the new program, not the one
            // that was behind the kill. Only the kernel's name stands then.
            guard p.comm == s.ancestors[i].comm else { continue }
            s.ancestors[i].exe = p.exe
            s.ancestors[i].argv = p.argv
        }
        // Past the kernel's depth: the rest of the chain from /proc, while it lives.
        if s.ancestryTruncated, let last = s.ancestors.last, let p = read(last.process, now: now), let ppid = p.ppid, ppid > 0 {
            for r in reader.ancestry(of: ppid, notAfter: s.time, now: now, limit: 56) {
                guard let ticks = r.startTicks else { break }
                var a = TracedAncestor(process: ProcessIdentity(pid: Int32(truncatingIfNeeded: r.pid),
                                                                startNanoseconds: UInt64(ticks) * Self.nanosecondsPerTick),
                                       comm: r.comm ?? [], atEvent: false)
                a.exe = r.exe
                a.argv = r.argv
                a.procCgroup = r.cgroup
                a.readAt = r.readAt
                s.ancestors.append(a)
            }
            s.ancestryTruncated = false
        }
        last = (given.0, given.1, given.2, (s.senderProcCgroup, s.ancestors, s.ancestryTruncated))
    }

    static let nanosecondsPerTick = UInt64(1_000_000_000) / UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))

    /// The process as /proc shows it, when it is the one the kernel named (same start).
    private mutating func read(_ id: ProcessIdentity, now: Double) -> ProcessRecord? {
        if let hit = cache[id] { return hit }
        guard reads < budget, id.pid > 0 else { return nil }
        reads += 1
        var r = reader.process(Int64(id.pid), now: now)
        if let got = r?.startTicks, got != TracedProcesses.ticks(id.startNanoseconds) { r = nil }
        // A process gone is not cached: its pid may be read again only with another start time.
        if r != nil {
            if cacheOrder.count >= 8192 {
                for old in cacheOrder.prefix(4096) { cache[old] = nil }
                cacheOrder.removeFirst(4096)
            }
            cache[id] = r
            cacheOrder.append(id)
        }
        return r
    }
}
