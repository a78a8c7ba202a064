import AuditDecoding

/// What a signal was aimed at, from the syscall's arguments beside the kernel's OBJ_PID.
///
/// The arguments are numbers in the *sender's* pid namespace; OBJ_PID names the process
/// reached by its host pid (the thread group id) and by the name (comm) of the thread the
/// signal went to. So a tgkill to a non-leader thread logs the process's pid with the
/// thread's name, and a kill from inside a container logs a pid the sender never wrote.
public enum SignalAim: Sendable, Equatable {
    /// The process OBJ_PID names, by that same pid.
    case process
    /// One thread of the process OBJ_PID names (tgkill/tkill to a non-leader thread), by
    /// its thread id; the logged name is the thread's, not the process's.
    case thread(tid: Int64)
    /// The process OBJ_PID names, by another number: its pid in the sender's pid namespace.
    case namespaced(pid: Int64)
    /// A thread of the process OBJ_PID names, by numbers of the sender's pid namespace.
    case namespacedThread(pid: Int64, tid: Int64)
    /// A process group (kill(-N)), or every process the sender may signal (kill(-1)), or
    /// the sender's own group (kill(0)): OBJ_PID names each process reached.
    case group(Int64)
    case everyProcess
    case ownGroup
    case pidfd(Int64)
    /// No OBJ_PID: no process was reached (ESRCH), or none was recorded. Only what the
    /// sender asked for is known, in its own pid namespace's numbers.
    case unreached

    /// A thread, not the whole process: the logged name is the thread's.
    public var isThread: Bool {
        switch self {
        case .thread, .namespacedThread: return true
        default: return false
        }
    }
}

extension SignalRow {
    public var aim: SignalAim {
        guard let pid = targetPid else { return .unreached }
        switch SignalSyscall(rawValue: syscall) {
        case .tgkill?, .rt_tgsigqueueinfo?:
            guard let tid = targetArg, let tgid = tgidArg else { return .process }
            if tgid == pid { return tid == tgid ? .process : .thread(tid: tid) }
            return tid == tgid ? .namespaced(pid: tgid) : .namespacedThread(pid: tgid, tid: tid)
        case .tkill?:
            // tkill names the thread alone; a number other than the process's is taken as
            // a thread of it (the sender's pid namespace cannot be told from the log).
            guard let tid = targetArg else { return .process }
            return tid == pid ? .process : .thread(tid: tid)
        case .kill?, .rt_sigqueueinfo?:
            guard let arg = targetArg else { return .process }
            if arg == -1 { return .everyProcess }
            if arg == 0 { return .ownGroup }
            if arg < 0 { return .group(-arg) }
            return arg == pid ? .process : .namespaced(pid: arg)
        case .pidfd_send_signal?:
            return pidfd.map { .pidfd($0) } ?? .process
        case nil:
            return .process
        }
    }
}
