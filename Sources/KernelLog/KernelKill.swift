import AuditDecoding
import AuditLog

/// Why the kernel itself ended a process: no process sent the signal, so no audit signal
/// rule records it.
public enum KernelKillKind: String, Sendable, Equatable, CaseIterable {
    /// The global OOM killer (or a cpuset / mempolicy constrained one).
    case oom
    /// A memory cgroup's OOM killer: the cgroup reached its limit.
    case memcgOOM = "memcg-oom"
    /// A seccomp filter's SECCOMP_RET_KILL (audit record SECCOMP, usually SIGSYS).
    case seccomp
    /// A fatal, core-dumping signal (audit record ANOM_ABEND: SIGSEGV, SIGABRT ...).
    case abend

    /// Both OOM kinds describe one kill; different lines of one OOM report may disagree
    /// on which (an old kernel's bare "Killed process" line says neither).
    public var isOOM: Bool { self == .oom || self == .memcgOOM }
}

/// Where a kernel kill was read: the `source` column.
public enum KernelLogSource: String, Sendable, Equatable {
    case kmsg, journal, syslog, dmesg, audit

    /// Whether an entry marked as the kernel's in this source can only have come from the
    /// kernel: kmsg's kernel facility and the journal's kernel transport. Any user can put
    /// `kernel: audit: type=1300 …` in syslog (`logger -t kernel`), and dmesg text or
    /// standard input is only as trustworthy as whoever wrote it.
    public var provesKernelOrigin: Bool { self == .kmsg || self == .journal || self == .audit }

    /// Whether this source proves who wrote an entry: the kernel for its own messages, and
    /// for systemd's, PID 1 or systemd-oomd (the journal's own fields; /dev/kmsg, which
    /// only root may write). Kills read only from syslog or dmesg text are unverified.
    public var provesWriter: Bool { provesKernelOrigin }
}

/// One kernel kill as one log entry describes it. Several entries may describe the same
/// kill (the `oom-kill:` line and the `Killed process` line; kmsg and kern.log): the store
/// joins them by pid and time.
public struct KernelKill: Sendable, Equatable {
    public var node: String
    /// Epoch seconds.
    public var time: Double
    public var source: KernelLogSource
    public var kind: KernelKillKind
    public var pid: Int64?
    public var comm: [UInt8]?
    public var exe: [UInt8]?
    public var uid: Int64?
    public var signal: Int32?
    /// The killed task's memory cgroup (task_memcg, or "Task in X").
    public var cgroup: String?
    /// The cgroup whose limit was hit (oom_memcg, or "limit of Y").
    public var limitCgroup: String?
    /// CONSTRAINT_NONE, CONSTRAINT_MEMCG, CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY.
    public var constraint: String?
    /// SECCOMP: the syscall the filter refused, and its arch.
    public var syscall: Int64?
    public var arch: UInt32?
    /// `total-vm:…kB, anon-rss:…kB, …` for OOM kills.
    public var details: String?
    /// The entry as logged (evidence).
    public var message: [UInt8]
    /// Unique per log entry: reading the entry again adds nothing.
    public var identity: String
    /// Whether the source proves the kernel wrote the entry (see `KernelLogSource.provesWriter`).
    public var verified: Bool { source.provesWriter }

    public init(node: String, time: Double, source: KernelLogSource, kind: KernelKillKind, message: [UInt8], identity: String) {
        self.node = node
        self.time = time
        self.source = source
        self.kind = kind
        self.message = message
        self.identity = identity
    }
}

/// Recognises the kernel's OOM-killer messages, given one message's text (after any
/// time stamp or syslog prefix). Kernels from 3.10 to 6.x word them differently:
///
/// - 3.10–5.0: `Out of memory: Kill process N (c) score S or sacrifice child` (or
///   `Memory cgroup out of memory: …`) names the choice, then a bare
///   `Killed process M (c) total-vm:…` (RHEL 7: `Killed process M (c), UID U, total-vm:…`)
///   the kill, which may be a child of N. Memory cgroups add
///   `Task in /x killed as a result of limit of /y` before them.
/// - 4.19+: `oom-kill:constraint=…,oom_memcg=/x,task_memcg=/x/y,task=c,pid=N,uid=U`.
/// - 5.1+: `Out of memory: Killed process N (c) total-vm:…, UID:U pgtables:… oom_score_adj:A`
///   (`Memory cgroup out of memory: Killed process …` for a cgroup).
///
/// Stateful only for the old kernels' context lines, which say what the bare `Killed
/// process` line that follows them means.
public struct KernelMessageRecognizer: Sendable {
    private var context: (time: Double, kind: KernelKillKind, cgroup: String?, limit: String?)?

    public init() {}

    /// The kill `message` describes, if any. `make` supplies what the caller knows
    /// (node, time, source, identity).
    public mutating func recognize(_ message: [UInt8], time: Double,
                                   make: (KernelKillKind) -> KernelKill) -> KernelKill? {
        // Every line of interest holds one of these words; most kernel messages hold none.
        guard message.count >= 12 else { return nil }
        if let r = message.firstRange(of: "Killed process ") {
            return killed(message, at: r, time: time, make: make)
        }
        if message.starts(with: Array("oom-kill:".utf8)) { return oomKillLine(message, make: make) }
        if let r = message.firstRange(of: "Kill process ") {
            // The choice, on old kernels; the kill follows.
            let kind: KernelKillKind = message[..<r.lowerBound].containsBytes("Memory cgroup") ? .memcgOOM : .oom
            let keep = context.flatMap { $0.time >= time - 5 ? $0 : nil }
            context = (time, kind, keep?.cgroup, keep?.limit)
            return nil
        }
        if message.starts(with: Array("Task in ".utf8)), let r = message.firstRange(of: " killed as a result of limit of ") {
            let task = String(decoding: message[8..<r.lowerBound], as: UTF8.self)
            let limit = String(decoding: message[r.upperBound...], as: UTF8.self)
            context = (time, .memcgOOM, task, limit)
        }
        return nil
    }

    private mutating func killed(_ m: [UInt8], at r: Range<Int>, time: Double,
                                 make: (KernelKillKind) -> KernelKill) -> KernelKill? {
        var i = r.upperBound
        guard let pid = decimal(m, &i), i + 1 < m.count, m[i] == 0x20, m[i + 1] == 0x28 else { return nil }
        let prefix = m[..<r.lowerBound]
        var kind: KernelKillKind = .oom
        var cgroup: String?, limit: String?
        if prefix.containsBytes("Memory cgroup") {
            kind = .memcgOOM
        } else if prefix.containsBytes("out of memory") || prefix.containsBytes("Out of memory") {
            kind = .oom
        } else if let c = context, c.time >= time - 5 {
            kind = c.kind
        } else if !prefix.allSatisfy({ $0 == 0x20 }) {
            // "Killed process" inside some other message (a driver's, a quoted log line).
            return nil
        }
        if let c = context, c.time >= time - 5 {
            cgroup = c.cgroup
            limit = c.limit
            if cgroup != nil { kind = .memcgOOM }
        }
        context = nil
        // The name may hold spaces and parentheses: it ends at the last ")" before the fields.
        let nameStart = i + 2
        let fields = m.firstRange(of: " total-vm:", from: nameStart)?.lowerBound
            ?? m.firstRange(of: ", UID", from: nameStart)?.lowerBound ?? m.count
        guard var close = m[nameStart..<fields].lastIndex(of: 0x29) else { return nil }
        var kill = make(kind)
        kill.pid = pid
        kill.comm = Array(m[nameStart..<close])
        kill.signal = 9
        kill.cgroup = cgroup
        kill.limitCgroup = limit
        if cgroup != nil { kill.constraint = "CONSTRAINT_MEMCG" }
        close += 1
        // ", UID 1000," (RHEL 7) or "UID:1000" (5.x).
        if let u = m.firstRange(of: "UID", from: close) {
            var j = u.upperBound
            while j < m.count, m[j] == 0x20 || m[j] == 0x3a { j += 1 }
            kill.uid = decimal(m, &j)
        }
        if let t = m.firstRange(of: "total-vm:", from: close) {
            kill.details = String(decoding: m[t.lowerBound...], as: UTF8.self)
        }
        return kill
    }

    private func oomKillLine(_ m: [UInt8], make: (KernelKillKind) -> KernelKill) -> KernelKill? {
        // Comma-separated key=value; task= may itself hold commas, so pid= and uid= are
        // read from the end.
        guard let p = m.lastRange(of: ",pid=") else { return nil }
        var i = p.upperBound
        guard let pid = decimal(m, &i) else { return nil }
        func value(_ key: String) -> String? {
            guard let r = m.firstRange(of: key), r.upperBound <= p.lowerBound else { return nil }
            let end = key == "task=" ? p.lowerBound : (m[r.upperBound..<p.lowerBound].firstIndex(of: 0x2c) ?? p.lowerBound)
            return String(decoding: m[r.upperBound..<end], as: UTF8.self)
        }
        let constraint = value("constraint=")
        var kill = make(constraint == "CONSTRAINT_MEMCG" ? .memcgOOM : .oom)
        kill.pid = pid
        kill.signal = 9
        kill.constraint = constraint
        kill.limitCgroup = value(",oom_memcg=")
        kill.cgroup = value(",task_memcg=")
        if let task = m.firstRange(of: ",task="), task.upperBound <= p.lowerBound {
            kill.comm = Array(m[task.upperBound..<p.lowerBound])
        }
        if let u = m.firstRange(of: ",uid=", from: p.upperBound) {
            var j = u.upperBound
            kill.uid = decimal(m, &j)
        }
        return kill
    }
}

extension KernelKill {
    /// A SECCOMP or ANOM_ABEND record the audit pre-filter set aside, as a kernel kill.
    public static func fromAudit(_ record: KernelActionRecord, source: KernelLogSource) -> KernelKill? {
        record.bytes.withUnsafeBufferPointer { fromAudit($0, record.header, source: source) }
    }

    /// A SECCOMP or ANOM_ABEND audit record as a kernel kill; nil for a SECCOMP record of
    /// an action that did not kill (sig=0: SECCOMP_RET_LOG, ERRNO, TRACE ...).
    public static func fromAudit(_ line: UnsafeBufferPointer<UInt8>, _ header: RecordHeader,
                                 source: KernelLogSource) -> KernelKill? {
        let kind: KernelKillKind
        switch header.kind {
        case .seccomp: kind = .seccomp
        case .anomAbend: kind = .abend
        default: return nil
        }
        func field(_ name: StaticString) -> UnsafeBufferPointer<UInt8>? { RecordHeader.field(name, in: line, header: header) }
        guard let sig = field("sig").flatMap(AuditField.decimal), sig > 0, sig < 128 else { return nil }
        let id = header.eventID
        let body = Array(UnsafeBufferPointer(rebasing: line[header.bodyStart..<header.bodyEnd]))
        var kill = KernelKill(node: id.node, time: id.time, source: source, kind: kind, message: body,
                              identity: "audit:\(id.node):\(id.seconds).\(id.milliseconds):\(id.serial):\(header.kind == .seccomp ? "seccomp" : "abend")")
        kill.signal = Int32(sig)
        kill.pid = field("pid").flatMap(AuditField.decimal)
        kill.uid = field("uid").flatMap(AuditField.auditID)
        kill.comm = field("comm").flatMap(AuditField.decodeString)
        kill.exe = field("exe").flatMap(AuditField.decodeString)
        if kind == .seccomp {
            kill.syscall = field("syscall").flatMap(AuditField.decimal)
            if let a = field("arch").flatMap(AuditField.hexUInt64) { kill.arch = UInt32(truncatingIfNeeded: a) }
            // As `ausearch -i` prints them: arch=i386 syscall=getpgid code=kill.
            let words = SeccompWords.of(record: line, syscall: kill.syscall, arch: kill.arch)
            let text = words.fields(syscallNumber: kill.syscall, archCode: kill.arch)
            if !text.isEmpty { kill.details = text }
        }
        return kill
    }
}

// MARK: byte searching

extension Array where Element == UInt8 {
    public func firstRange(of needle: String, from start: Int = 0) -> Range<Int>? {
        let n = Array(needle.utf8)
        guard n.count > 0, count - start >= n.count else { return nil }
        var i = start
        while i + n.count <= count {
            if self[i] == n[0] {
                var k = 1
                while k < n.count, self[i + k] == n[k] { k += 1 }
                if k == n.count { return i..<(i + n.count) }
            }
            i += 1
        }
        return nil
    }

    func lastRange(of needle: String) -> Range<Int>? {
        let n = Array(needle.utf8)
        guard n.count > 0, count >= n.count else { return nil }
        var i = count - n.count
        while i >= 0 {
            if self[i..<(i + n.count)].elementsEqual(n) { return i..<(i + n.count) }
            i -= 1
        }
        return nil
    }
}

extension ArraySlice where Element == UInt8 {
    func containsBytes(_ needle: String) -> Bool {
        Array(self).firstRange(of: needle) != nil
    }
}

/// A non-negative decimal at `i`, advancing past it.
func decimal(_ m: [UInt8], _ i: inout Int) -> Int64? {
    let start = i
    var v: Int64 = 0
    while i < m.count, m[i] >= 0x30, m[i] <= 0x39, i - start < 18 {
        v = v * 10 + Int64(m[i] - 0x30)
        i += 1
    }
    return i > start ? v : nil
}
