/// One signal as the kernel generated it (the `signal:signal_generate` tracepoint), seen by
/// `killdb trace`. Unlike an audit record it exists for every signal, whatever sent it, and
/// it says what the kernel did with it.
public struct TracedSignal: Sendable, Equatable {
    /// Nanoseconds since boot (CLOCK_BOOTTIME): with the boot and the sender's tid, it
    /// identifies the record.
    public var bootNanoseconds: UInt64
    /// Wall-clock time, epoch seconds.
    public var time: Double
    public var signal: Int32
    /// si_code: SI_USER 0, SI_KERNEL 0x80, SI_QUEUE -1, SI_TKILL -6 ...
    public var code: Int32
    /// Process-directed (the thread group's shared queue) rather than aimed at one thread.
    public var processDirected: Bool
    public var result: SignalResult
    /// The syscall the sender was in, when the signal came from one of the signal syscalls.
    public var syscallNumber: Int32?
    public var cause: TraceCause
    public var sender: TracedTask
    public var target: TracedTask
    public var uid: UInt32
    public var euid: UInt32
    /// The audit login uid and session (4294967295: unset).
    public var loginUID: UInt32
    public var sessionID: UInt32
    public var parent: ProcessIdentity
    public var parentComm: [UInt8]
    /// argv as read from the sender's memory at the event, NUL-separated; nil when there
    /// was none to read (a kernel thread, a task past exit_mm).
    public var argv: [UInt8]?
    public var argvTruncated: Bool
    /// The sender's executable at the event (mm->exe_file), as the host's root sees it
    /// (a `kill` that exits a moment later is still named).
    public var exe: [UInt8]?
    public var senderIsKernelThread: Bool
    /// The sender's parents read in the kernel at the event (real_parent links, the parent
    /// first, up to PID 1 or `TracedAncestor.kernelDepth`), then, while they lived, the
    /// rest from /proc; each completed from /proc when it still lived.
    public var ancestors: [TracedAncestor] = []
    /// More parents than the kernel read, and none of them read from /proc.
    public var ancestryTruncated = false
    /// The tracer did not have the sender's context (command line, executable, parents) for
    /// this signal: `argv`, `exe` and the parents past `parent` are unknown, not empty.
    public var contextMissing = false
    /// The sender's /proc/PID/cgroup (every hierarchy, named v1 ones too), read a moment
    /// after the event while it lived; nil when it had exited.
    public var senderProcCgroup: [UInt8]?

    public init(bootNanoseconds: UInt64, time: Double, signal: Int32, code: Int32, processDirected: Bool,
                result: SignalResult, syscallNumber: Int32?, cause: TraceCause, sender: TracedTask, target: TracedTask,
                uid: UInt32, euid: UInt32, loginUID: UInt32, sessionID: UInt32, parent: ProcessIdentity,
                parentComm: [UInt8], argv: [UInt8]?, argvTruncated: Bool, exe: [UInt8]?, senderIsKernelThread: Bool) {
        self.bootNanoseconds = bootNanoseconds
        self.time = time
        self.signal = signal
        self.code = code
        self.processDirected = processDirected
        self.result = result
        self.syscallNumber = syscallNumber
        self.cause = cause
        self.sender = sender
        self.target = target
        self.uid = uid
        self.euid = euid
        self.loginUID = loginUID
        self.sessionID = sessionID
        self.parent = parent
        self.parentComm = parentComm
        self.argv = argv
        self.argvTruncated = argvTruncated
        self.exe = exe
        self.senderIsKernelThread = senderIsKernelThread
    }

    /// argv joined by spaces, as `ps` shows it.
    public var commandLine: [UInt8]? {
        guard var a = argv else { return nil }
        while a.last == 0 { a.removeLast() }
        return a.map { $0 == 0 ? 0x20 : $0 }
    }
}

/// A process as one boot knows it: a pid is reused, a pid with its start time is not.
public struct ProcessIdentity: Sendable, Equatable, Hashable {
    public var pid: Int32
    /// The thread group leader's start, nanoseconds since boot (CLOCK_BOOTTIME, as
    /// /proc/PID/stat's starttime counts it, in finer units).
    public var startNanoseconds: UInt64
    public init(pid: Int32, startNanoseconds: UInt64) {
        self.pid = pid
        self.startNanoseconds = startNanoseconds
    }
}

/// One task at the event: a thread, and the process it belongs to.
public struct TracedTask: Sendable, Equatable {
    public var process: ProcessIdentity
    public var tid: Int32
    /// The thread's name (for a worker thread, not the process's).
    public var comm: [UInt8]
    /// Its cgroup in the unified (v2) hierarchy, by id (the inode number of its directory).
    public var cgroupID: UInt64
    /// The same cgroup as a path from the hierarchy's root, read at the event (the id
    /// names nothing once a container's cgroup is removed); nil when not read.
    public var cgroupPath: [UInt8]?
    /// Its pid namespace (the inode of /proc/PID/ns/pid) and its pid there.
    public var pidNamespace: UInt32
    public var namespacePid: Int32

    public init(process: ProcessIdentity, tid: Int32, comm: [UInt8], cgroupID: UInt64, pidNamespace: UInt32, namespacePid: Int32) {
        self.process = process
        self.tid = tid
        self.comm = comm
        self.cgroupID = cgroupID
        self.pidNamespace = pidNamespace
        self.namespacePid = namespacePid
    }
}

/// One of a traced sender's parents: who it was at the event (from the kernel), and what
/// it ran (from /proc, while it still lived, proven the same process by its start time).
public struct TracedAncestor: Sendable, Equatable {
    /// How many parents the BPF program reads.
    public static let kernelDepth = 8

    public var process: ProcessIdentity
    public var comm: [UInt8]
    /// Read by the kernel at the event; false for parents past `kernelDepth`, read from /proc.
    public var atEvent: Bool
    public var exe: [UInt8]?
    public var argv: [[UInt8]] = []
    /// Its /proc/PID/cgroup.
    public var procCgroup: [UInt8]?
    /// When /proc was read (epoch seconds); nil: it had exited, only the kernel's names stand.
    public var readAt: Double?

    public init(process: ProcessIdentity, comm: [UInt8], atEvent: Bool = true) {
        self.process = process
        self.comm = comm
        self.atEvent = atEvent
    }
}

/// What the kernel did with the signal (the tracepoint's `result`).
public enum SignalResult: Int32, Sendable, Equatable, CaseIterable {
    case delivered = 0
    /// The target was exiting, a zombie, or ignores it (a namespace init and SIGKILL from inside).
    case ignored = 1
    /// The same signal was already pending: this one added nothing.
    case alreadyPending = 2
    /// The queue of real-time signals was full.
    case overflow = 3
    /// Queued, but its siginfo was lost.
    case lostInfo = 4

    public var name: String {
        switch self {
        case .delivered: "delivered"
        case .ignored: "ignored"
        case .alreadyPending: "pending"
        case .overflow: "overflow"
        case .lostInfo: "lose-info"
        }
    }
}

/// Why the kernel generated the signal.
public enum TraceCause: Sendable, Equatable {
    /// The sender called one of the signal syscalls (kill, tkill, tgkill, rt_sigqueueinfo,
    /// rt_tgsigqueueinfo, pidfd_send_signal).
    case syscall(String)
    /// The sender wrote to a cgroup.kill file; the cgroup, as a path from its hierarchy's root.
    case cgroupKill(cgroup: String?)
    /// The sender is the namespace's init, exiting: the kernel kills every other task in it.
    case pidNamespaceTeardown(namespace: UInt32)
    /// The OOM killer chose the target; its memory cgroup.
    case oom(memoryCgroup: String?)
    /// A CPU-time limit (RLIMIT_CPU, or RLIMIT_RTTIME): SIGXCPU at the soft limit, SIGKILL at the hard.
    case cpuTimeLimit
    /// A seccomp filter's verdict (SIGSYS with SYS_SECCOMP).
    case seccomp
    /// The parent exited and the target had asked for it (PR_SET_PDEATHSIG).
    case parentDeath
    /// Another path in the kernel.
    case kernel

    /// The name stored in the `cause` column.
    public var name: String {
        switch self {
        case .syscall: "syscall"
        case .cgroupKill: "cgroup-kill"
        case .pidNamespaceTeardown: "pidns-teardown"
        case .oom: "oom"
        case .cpuTimeLimit: "cpu-limit"
        case .seccomp: "seccomp"
        case .parentDeath: "parent-death"
        case .kernel: "kernel"
        }
    }

    /// The detail stored beside it: the syscall, the cgroup path.
    public var detail: String? {
        switch self {
        case .syscall(let name): name
        case .cgroupKill(let path): path
        case .oom(let path): path
        default: nil
        }
    }
}

/// Records the kernel had no room for in the tracer's ring buffer, between two times.
public struct TraceLoss: Sendable, Equatable {
    public var from: Double
    public var to: Double
    public var count: UInt64
    public init(from: Double, to: Double, count: UInt64) {
        self.from = from
        self.to = to
        self.count = count
    }
}
