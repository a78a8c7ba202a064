#if canImport(Glibc)
import Glibc
#endif

/// Where a process record was read from: how sure it is.
public enum ProcessSource: String, Sendable, Equatable {
    /// /proc, read after the event (the plugin, or the tracer completing its links): a
    /// moment late, so a process that had already exited is missing, never wrongly named.
    case proc
    /// The EXECVE and SYSCALL records of the process's own execve in the audit log.
    case auditExecve = "audit-execve"
    /// The tracer, in the kernel at the event.
    case tracer
}

/// One process of a chain: who it was (pid and start time, so a reused pid is a different
/// process), what it ran, and where it lived.
public struct ProcessRecord: Sendable, Equatable {
    /// The boot the pid and start time belong to ("" when unknown).
    public var bootID = ""
    public var pid: Int64
    /// Field 22 of /proc/PID/stat: clock ticks after boot. nil when the source has none.
    public var startTicks: Int64?
    /// The start as wall time (epoch seconds), from the boot time; nil when unknown.
    public var startTime: Double?
    public var ppid: Int64?
    public var comm: [UInt8]?
    public var exe: [UInt8]?
    /// The command line, argv as the process has it.
    public var argv: [[UInt8]]
    /// The content of /proc/PID/cgroup (or the one path a source gives).
    public var cgroup: [UInt8]?
    public var source: ProcessSource
    /// When it was read (epoch seconds).
    public var readAt: Double

    public init(pid: Int64, startTicks: Int64? = nil, startTime: Double? = nil, ppid: Int64? = nil,
                comm: [UInt8]? = nil, exe: [UInt8]? = nil, argv: [[UInt8]] = [], cgroup: [UInt8]? = nil,
                source: ProcessSource, readAt: Double) {
        self.pid = pid
        self.startTicks = startTicks
        self.startTime = startTime
        self.ppid = ppid
        self.comm = comm
        self.exe = exe
        self.argv = argv
        self.cgroup = cgroup
        self.source = source
        self.readAt = readAt
    }

    /// Where it lived, read from `cgroup` (and a pod's names from kubelet's directories).
    public var place: ProcessPlace?

    /// The program's name as a person knows it: the executable's last path component, else comm.
    public var programName: [UInt8]? {
        if let exe, let last = exe.split(separator: UInt8(ascii: "/")).last { return Array(last) }
        return comm
    }
}

/// Reads processes from a /proc directory (`/proc`, or a copy in tests). Best effort: a
/// process gone, or a file that cannot be read, is a nil or a missing field, never an error.
public struct ProcReader: Sendable {
    public var root: String
    /// The boot time (epoch seconds, `btime` of /proc/stat) and clock ticks per second, to
    /// turn a start in ticks into wall time.
    public var bootTime: Double?
    public var ticksPerSecond: Double
    /// Where pods are named from; nil: not looked up.
    public var podLogs: PodLogs?
    /// This boot's id: with pid and start time, a process is told apart from every other.
    public var bootID: String

    public init(root: String = "/proc", podLogs: PodLogs? = PodLogs()) {
        self.root = root
        self.podLogs = podLogs
        bootID = Self.read(root + "/sys/kernel/random/boot_id").map { String(decoding: $0, as: UTF8.self).trimmingSpaces() } ?? ""
        ticksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        bootTime = nil
        if let stat = Self.read(root + "/stat") {
            for line in stat.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("btime ".utf8)) {
                bootTime = Double(String(decoding: line.dropFirst(6), as: UTF8.self).trimmingSpaces())
            }
        }
    }

    /// The process `pid` as it is now, or nil when it is gone.
    public func process(_ pid: Int64, now: Double) -> ProcessRecord? {
        let dir = root + "/\(pid)"
        guard let stat = Self.read(dir + "/stat"), let fields = Self.statFields(stat) else { return nil }
        // A zombie has left its cgroup, memory and executable: what /proc shows of it is
        // no longer what it was (its cgroup reads as the root). Its parent says more.
        if let state = Self.state(stat), state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") { return nil }
        var r = ProcessRecord(pid: pid, source: .proc, readAt: now)
        r.bootID = bootID
        r.comm = fields.comm
        r.ppid = fields.ppid
        r.startTicks = fields.startTicks
        if let bootTime, let t = fields.startTicks { r.startTime = bootTime + Double(t) / ticksPerSecond }
        r.exe = Self.link(dir + "/exe")
        if let cmdline = Self.read(dir + "/cmdline") {
            var argv = cmdline.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
            if argv.last?.isEmpty == true { argv.removeLast() }
            r.argv = argv
        }
        r.cgroup = Self.read(dir + "/cgroup")
        r.place = r.cgroup.flatMap { ProcessPlace(procCgroup: $0) }
        if var place = r.place, let pod = place.pod, let podLogs {
            place.pod = podLogs.complete(pod, container: place.container)
            r.place = place
        }
        // Read stat again: a pid reused while we read would mix two processes.
        guard let again = Self.read(dir + "/stat").flatMap(Self.statFields), again.startTicks == fields.startTicks else { return nil }
        return r
    }

    /// The chain from `pid` up to PID 1: the process itself first. A process that started
    /// after `notAfter` (epoch seconds) is a reused pid, not the one that was there: the
    /// chain stops before it.
    public func ancestry(of pid: Int64, notAfter: Double? = nil, now: Double, limit: Int = 64) -> [ProcessRecord] {
        var chain: [ProcessRecord] = []
        var next: Int64? = pid
        var seen = Set<Int64>()
        while let p = next, p > 0, chain.count < limit, seen.insert(p).inserted {
            guard let r = process(p, now: now) else { break }
            if let notAfter, let start = r.startTime, start > notAfter + 1 { break }
            chain.append(r)
            next = r.ppid
        }
        return chain
    }

    /// (comm, ppid, starttime) of a stat line; comm may hold spaces and parentheses, so it
    /// ends at the last `)`.
    public static func statFields(_ stat: [UInt8]) -> (comm: [UInt8], ppid: Int64?, startTicks: Int64?)? {
        guard let open = stat.firstIndex(of: UInt8(ascii: "(")), let close = stat.lastIndex(of: UInt8(ascii: ")")),
              open < close else { return nil }
        let comm = Array(stat[(open + 1)..<close])
        let rest = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        // rest[0] is field 3 (state); ppid is field 4, starttime field 22.
        func field(_ n: Int) -> Int64? {
            let i = n - 3
            return i < rest.count ? Int64(String(decoding: rest[i], as: UTF8.self)) : nil
        }
        return (comm, field(4), field(22))
    }

    static func state(_ stat: [UInt8]) -> UInt8? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return nil }
        return stat[close + 2]
    }

    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 20 {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    static func link(_ path: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        guard n > 0 else { return nil }
        return Array(buf[0..<n])
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(decoding: Array(utf8).drop(while: { $0 == 0x20 }).reversed().drop(while: { $0 == 0x20 || $0 == 0x0a }).reversed(), as: UTF8.self)
    }
}

/// What was read of one signal event's processes as the event arrived.
public struct EventProcesses: Sendable, Equatable {
    /// The sender first (when `senderRead`), else its parent; then their parents.
    public var chain: [ProcessRecord]
    /// False when the sender had exited before it could be read (a `kill` lives a moment).
    public var senderRead: Bool
    /// The targets that still lived, read once each.
    public var targets: [ProcessRecord]

    public init(chain: [ProcessRecord], senderRead: Bool, targets: [ProcessRecord] = []) {
        self.chain = chain
        self.senderRead = senderRead
        self.targets = targets
    }

    public var isEmpty: Bool { chain.isEmpty && targets.isEmpty }
}

extension ProcReader {
    /// The processes of a signal sent at `time` by `sender` (its parent `ppid`, as the
    /// record says) to `targets`: what of them still lives and is provably the same process
    /// (started no later than the event).
    public func capture(sender: Int64?, ppid: Int64?, targets: [Int64], time: Double, now: Double) -> EventProcesses {
        var chain = sender.map { ancestry(of: $0, notAfter: time, now: now) } ?? []
        let senderRead = !chain.isEmpty
        // Its parent exited and it was reparented: the parent the record names comes first
        // when it still lives, else the new parent (an ancestor of the old one) stands.
        if senderRead, let ppid, ppid > 0, chain[0].ppid != ppid {
            let up = ancestry(of: ppid, notAfter: time, now: now)
            if !up.isEmpty { chain = [chain[0]] + up }
        }
        if chain.isEmpty, let ppid, ppid > 0 { chain = ancestry(of: ppid, notAfter: time, now: now) }
        var read: [ProcessRecord] = []
        for t in targets.prefix(16) where t > 0 {
            if let r = process(t, now: now), r.startTime.map({ $0 <= time + 1 }) ?? true { read.append(r) }
        }
        return EventProcesses(chain: chain, senderRead: senderRead, targets: read)
    }
}
