/// The identity of one audit event: the `audit(SEC.MSEC:SERIAL)` stamp shared by all of
/// its records, plus the `node=` name of the host that logged it ("" when the log has none).
/// The serial restarts at boot and wraps at 2^32, so the time is part of the identity.
public struct EventID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var node: String
    public var seconds: Int64
    public var milliseconds: Int32
    public var serial: UInt32

    public init(node: String = "", seconds: Int64, milliseconds: Int32, serial: UInt32) {
        self.node = node
        self.seconds = seconds
        self.milliseconds = milliseconds
        self.serial = serial
    }

    /// Epoch seconds with millisecond precision.
    public var time: Double { Double(seconds) + Double(milliseconds) / 1000 }

    /// The stamp as ausearch prints it, `1418188627.862:14281`.
    public var description: String {
        EventID.format(seconds: seconds, milliseconds: Int64(milliseconds), serial: Int64(serial))
    }

    public static func < (a: EventID, b: EventID) -> Bool {
        (a.seconds, a.milliseconds, a.serial, a.node) < (b.seconds, b.milliseconds, b.serial, b.node)
    }
}

/// What one signal-sending syscall record says: which call, its arguments, the outcome.
public struct SignalCall: Sendable, Equatable {
    public var arch: AuditArch
    /// The syscall number as logged for `arch`.
    public var syscallNumber: Int
    public var syscall: SignalSyscall
    /// Raw a0...a3 as logged (hexadecimal in the log), 64-bit bit patterns.
    public var arguments: [UInt64]
    /// The signal number, from a1 or a2 depending on the syscall; nil if the argument is missing.
    public var signal: Int32?
    public var success: Bool?
    public var exit: Int64?
    /// What the sender asked for: the pid (negative for a process group, -1 for all) of
    /// kill, the tid of tkill/tgkill/rt_tgsigqueueinfo, the tgid of rt_sigqueueinfo.
    /// nil for pidfd_send_signal, whose target is a file descriptor.
    public var targetArgument: Int64?
    /// tgkill and rt_tgsigqueueinfo: the thread group id in a0.
    public var threadGroupArgument: Int64?
    /// pidfd_send_signal: the pidfd in a0.
    public var pidfd: Int64?

    public init(arch: AuditArch, syscallNumber: Int, syscall: SignalSyscall, arguments: [UInt64],
                signal: Int32?, success: Bool?, exit: Int64?, targetArgument: Int64?,
                threadGroupArgument: Int64?, pidfd: Int64?) {
        self.arch = arch
        self.syscallNumber = syscallNumber
        self.syscall = syscall
        self.arguments = arguments
        self.signal = signal
        self.success = success
        self.exit = exit
        self.targetArgument = targetArgument
        self.threadGroupArgument = threadGroupArgument
        self.pidfd = pidfd
    }

    /// `kill(pid, 0)`: a liveness probe, not a signal.
    public var isProbe: Bool { signal == 0 }
}

/// The process that made the call, from the SYSCALL and PROCTITLE records.
/// Strings are the logged bytes, decoded from hex where the kernel encoded them; never
/// assumed to be UTF-8.
public struct SignalSender: Sendable, Equatable {
    public var pid: Int64?
    public var ppid: Int64?
    public var uid: Int64?
    public var auid: Int64?
    public var euid: Int64?
    public var ses: Int64?
    public var tty: [UInt8]?
    public var comm: [UInt8]?
    public var exe: [UInt8]?
    /// The PROCTITLE bytes: argv joined by NULs (at most 128 bytes, the kernel's limit).
    public var proctitle: [UInt8]?
    /// The security context (`subj=`), when an LSM logged one.
    public var subject: [UInt8]?
    /// Names the sending host resolved, from an ENRICHED log (`UID="root"`, `AUID="unset"`).
    public var uidName: [UInt8]?
    public var auidName: [UInt8]?
    public var euidName: [UInt8]?

    public init() {}
}

/// One OBJ_PID record: a process the signal was aimed at.
public struct SignalTarget: Sendable, Equatable {
    public var pid: Int64
    public var uid: Int64?
    public var auid: Int64?
    public var ses: Int64?
    public var comm: [UInt8]?
    public var object: [UInt8]?
    public var uidName: [UInt8]?
    public var auidName: [UInt8]?

    public init(pid: Int64) { self.pid = pid }
}

/// A signal event, or the part of one that a batch of records carried: the records of one
/// event can be split across runs or rotated files, so `call` is nil when this batch had
/// only the event's later records (OBJ_PID, PROCTITLE). The store merges the parts.
public struct SignalEvent: Sendable, Equatable {
    public var id: EventID
    public var call: SignalCall?
    public var sender: SignalSender
    public var targets: [SignalTarget]
    public var key: [UInt8]?

    public init(id: EventID, call: SignalCall? = nil, sender: SignalSender = SignalSender(),
                targets: [SignalTarget] = [], key: [UInt8]? = nil) {
        self.id = id
        self.call = call
        self.sender = sender
        self.targets = targets
        self.key = key
    }
}
