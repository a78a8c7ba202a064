import AuditDecoding
import CLibbpf
import Foundation
import KernelTrace
#if canImport(Glibc)
import Glibc
#endif

/// Turns the BPF program's records into `TracedSignal`s: wall-clock times, the cause in
/// words the kernel's state allows.
///
/// The OOM killer's SIGKILL is followed, in the same thread, by an oom:mark_victim record;
/// a SIGKILL that could be one is held until the end of the next poll to meet it.
final class RecordDecoder {
    private var held: [(signal: TracedSignal, polls: Int)] = []
    private var clock = BootClock()

    func decode(_ r: kt_record) -> [TracedSignal] {
        switch Int(r.kind) {
        case Int(KT_KIND_SIGNAL.rawValue):
            let s = signal(r)
            if mayBeOOM(s) {
                held.append((s, 0))
                return []
            }
            return [s]
        case Int(KT_KIND_OOM_VICTIM.rawValue):
            let cgroup = Self.cgroupPath(r)
            let sender = Int32(bitPattern: r.sender.tid), victim = Int32(bitPattern: r.target.tgid)
            if let i = held.lastIndex(where: { $0.signal.sender.tid == sender && $0.signal.target.process.pid == victim }) {
                var s = held.remove(at: i).signal
                s.cause = .oom(memoryCgroup: cgroup)
                return [s]
            }
            return []
        default:
            return []
        }
    }

    /// Called after each poll: records held through a whole poll met no OOM marker.
    func endOfPoll() -> [TracedSignal] {
        var ready: [TracedSignal] = []
        held = held.compactMap { item in
            if item.polls >= 1 {
                var s = item.signal
                s.cause = Self.kernelCause(s)
                ready.append(s)
                return nil
            }
            return (item.signal, item.polls + 1)
        }
        return ready
    }

    private func mayBeOOM(_ s: TracedSignal) -> Bool {
        s.signal == 9 && s.code == 0x80 && s.processDirected && s.cause == .kernel
    }

    /// A kernel-made signal that is no OOM kill.
    static func kernelCause(_ s: TracedSignal) -> TraceCause {
        if s.sender.process == s.target.process && s.code == 0x80 && (s.signal == 9 || s.signal == 24) && s.processDirected {
            return .cpuTimeLimit
        }
        return .kernel
    }

    private func signal(_ r: kt_record) -> TracedSignal {
        let flags = r.flags
        let sender = Self.task(r.sender)
        let target = Self.task(r.target)
        var cause: TraceCause
        var syscallNumber: Int32?
        let code = r.si_code, sig = r.sig
        switch Int(r.cause) {
        case Int(KT_CAUSE_CGROUP_KILL.rawValue):
            cause = .cgroupKill(cgroup: Self.cgroupPath(r))
        case Int(KT_CAUSE_PIDNS_TEARDOWN.rawValue):
            cause = .pidNamespaceTeardown(namespace: r.cause_pidns_inum)
        default:
            if sig == 31 && code == 1 {
                cause = .seccomp
            } else if r.syscall_nr >= 0, code <= 0, flags & UInt32(KT_FLAG_KTHREAD) == 0,
                      let call = AuditArch.native.signalSyscall(number: Int(r.syscall_nr)) {
                cause = .syscall(call.rawValue)
                syscallNumber = r.syscall_nr
            } else if flags & UInt32(KT_FLAG_EXITING) != 0 && code == 0 {
                cause = .parentDeath
            } else if code == 0x80 && sig == 24 && sender.process == target.process {
                cause = .cpuTimeLimit
            } else {
                cause = .kernel
            }
        }
        var senderTask = sender, targetTask = target
        senderTask.cgroupPath = Self.path(r.sender_cgpath, length: r.sender_cgpath_len,
                                          truncated: flags & UInt32(KT_FLAG_SENDER_CGPATH_TRUNCATED) != 0)
        targetTask.cgroupPath = Self.path(r.target_cgpath, length: r.target_cgpath_len,
                                          truncated: flags & UInt32(KT_FLAG_TARGET_CGPATH_TRUNCATED) != 0)
        let argv: [UInt8]? = r.args_len > 0 ? withUnsafeBytes(of: r.args) { Array($0.prefix(Int(r.args_len))) } : nil
        let kthread = flags & UInt32(KT_FLAG_KTHREAD) != 0
        var s = TracedSignal(
            bootNanoseconds: r.boot_ns, time: clock.wallTime(bootNanoseconds: r.boot_ns),
            signal: sig, code: code, processDirected: r.group != 0,
            result: SignalResult(rawValue: r.result) ?? .delivered, syscallNumber: syscallNumber, cause: cause,
            sender: senderTask, target: targetTask, uid: r.uid, euid: r.euid, loginUID: r.loginuid, sessionID: r.sessionid,
            parent: ProcessIdentity(pid: Int32(bitPattern: r.parent_tgid), startNanoseconds: r.parent_start_boottime),
            parentComm: Self.string(r.parent_comm), argv: argv,
            argvTruncated: flags & UInt32(KT_FLAG_ARGS_TRUNCATED) != 0,
            exe: kthread ? nil : Self.exePath(r), senderIsKernelThread: kthread)
        s.ancestors = Self.ancestors(r)
        s.ancestryTruncated = flags & UInt32(KT_FLAG_ANCESTRY_TRUNCATED) != 0
        return s
    }

    /// The parents the BPF program read, the sender's parent first.
    static func ancestors(_ r: kt_record) -> [TracedAncestor] {
        let n = Int(min(r.ancestors_len, UInt32(KT_ANCESTRY_DEPTH)))
        return withUnsafeBytes(of: r.ancestors) { raw in
            (0..<n).map { i in
                let a = raw.load(fromByteOffset: i * MemoryLayout<kt_ancestor>.stride, as: kt_ancestor.self)
                return TracedAncestor(process: ProcessIdentity(pid: Int32(bitPattern: a.tgid), startNanoseconds: a.start_boottime),
                                      comm: string(a.comm))
            }
        }
    }

    /// A sender's or target's cgroup: "/" for the root (no components).
    static func path<T>(_ tuple: T, length: UInt32, truncated: Bool) -> [UInt8] {
        let bytes = withUnsafeBytes(of: tuple) { Array($0.prefix(Int(min(length, UInt32(KT_CGPATH_LEN))))) }
        let path = joinComponents(bytes, truncated: truncated)
        return path.isEmpty ? [UInt8(ascii: "/")] : path
    }

    static func task(_ t: kt_task) -> TracedTask {
        TracedTask(process: ProcessIdentity(pid: Int32(bitPattern: t.tgid), startNanoseconds: t.start_boottime),
                   tid: Int32(bitPattern: t.tid), comm: string(t.comm), cgroupID: t.cgroup_id,
                   pidNamespace: t.pidns_inum, namespacePid: Int32(bitPattern: t.ns_tgid))
    }

    static func string<T>(_ tuple: T) -> [UInt8] {
        withUnsafeBytes(of: tuple) { Array($0.prefix { $0 != 0 }) }
    }

    /// The components BPF wrote leaf first, as a path from the hierarchy's root.
    static func cgroupPath(_ r: kt_record) -> String? {
        guard r.cgpath_len > 0 else { return nil }
        let bytes = withUnsafeBytes(of: r.cgpath) { Array($0.prefix(Int(min(r.cgpath_len, UInt32(KT_CGPATH_LEN))))) }
        let path = joinComponents(bytes, truncated: r.flags & UInt32(KT_FLAG_PATH_TRUNCATED) != 0)
        return String(decoding: path, as: UTF8.self)
    }

    /// The executable as the kernel knew it at the event (a `kill` that exits a moment
    /// later is still named), from the root of its mount.
    static func exePath(_ r: kt_record) -> [UInt8]? {
        guard r.exe_len > 0 else { return nil }
        let bytes = withUnsafeBytes(of: r.exe) { Array($0.prefix(Int(min(r.exe_len, UInt32(KT_EXE_LEN))))) }
        return joinComponents(bytes, truncated: r.flags & UInt32(KT_FLAG_EXE_TRUNCATED) != 0)
    }

    /// NUL-terminated names, leaf first, to "/a/b/leaf" (bytes: names need not be UTF-8).
    static func joinComponents(_ bytes: [UInt8], truncated: Bool) -> [UInt8] {
        var path: [UInt8] = truncated ? Array("…".utf8) : []
        for part in bytes.split(separator: 0, omittingEmptySubsequences: true).reversed() {
            path.append(UInt8(ascii: "/"))
            path.append(contentsOf: part)
        }
        return path
    }
}

/// CLOCK_BOOTTIME to wall-clock time, remeasured every few seconds (NTP steps the wall clock).
struct BootClock {
    private var offset: Double = 0
    private var measuredAt: Double = -1

    mutating func wallTime(bootNanoseconds: UInt64) -> Double {
        let now = Self.boottime()
        if measuredAt < 0 || now - measuredAt > 5 {
            offset = Self.bootTime()
            measuredAt = now
        }
        return offset + Double(bootNanoseconds) / 1e9
    }

    /// Epoch seconds at boot: CLOCK_REALTIME - CLOCK_BOOTTIME, read back to back.
    static func bootTime() -> Double {
        var real = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        return (Double(real.tv_sec) + Double(real.tv_nsec) / 1e9) - (Double(boot.tv_sec) + Double(boot.tv_nsec) / 1e9)
    }

    static func boottime() -> Double {
        var boot = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        return Double(boot.tv_sec) + Double(boot.tv_nsec) / 1e9
    }
}
