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
///
/// A sender's command line, executable and parents come once per process image (a context
/// record), a cgroup's path once per cgroup (a cgroup record), ahead of the first signal
/// that needs them; they are kept here to complete every signal after. A signal whose
/// context is not held here (or not for its execve and parent) is never given another: it
/// is marked `contextMissing`, and `forget` has the program send the context again.
final class RecordDecoder {
    private var held: [(signal: TracedSignal, polls: Int)] = []
    private var clock = BootClock()

    /// What a process image's context record said.
    struct Context {
        var execID: UInt64
        var parent: ProcessIdentity
        var argv: [UInt8]?
        var argvTruncated: Bool
        var exe: [UInt8]?
        var ancestors: [TracedAncestor]
        var ancestryTruncated: Bool
    }
    private var contexts: [ProcessIdentity: Context] = [:]
    private var contextOrder: [ProcessIdentity] = []
    private var cgroups: [UInt64: [UInt8]] = [:]
    private var cgroupOrder: [UInt64] = []
    /// More than the program's maps hold (16,384 and 4,096): what is dropped here is
    /// mostly long gone there too, and what is not is deleted there through `forget`.
    let contextLimit: Int
    let cgroupLimit: Int
    /// Deletes the program's entry for a context, or a cgroup, so that it is sent again.
    var forgetContext: (ProcessIdentity) -> Void = { _ in }
    var forgetCgroup: (UInt64) -> Void = { _ in }
    /// Signals stored without their context, and contexts asked for again.
    private(set) var contextsMissing = 0

    init(contextLimit: Int = 32768, cgroupLimit: Int = 8192) {
        self.contextLimit = contextLimit
        self.cgroupLimit = cgroupLimit
    }

    /// One record of `size` bytes from the ring buffer; the signals it completes are appended to `out`.
    func decode(_ data: UnsafeRawPointer, size: Int, into out: inout [TracedSignal]) {
        guard size >= 4 else { return }
        switch Int(data.loadUnaligned(as: UInt32.self)) {
        case Int(KT_KIND_SIGNAL.rawValue):
            guard size >= MemoryLayout<kt_signal>.size else { return }
            let r = data.loadUnaligned(as: kt_signal.self)
            var cgroupKillPath: String?
            if r.cause == KT_CAUSE_CGROUP_KILL.rawValue, size >= MemoryLayout<kt_signal_cgroup_kill>.size {
                let k = data.loadUnaligned(as: kt_signal_cgroup_kill.self)
                cgroupKillPath = Self.cgroupPath(k.cgpath, length: r.cgpath_len, truncated: r.flags & UInt32(KT_FLAG_PATH_TRUNCATED) != 0)
            }
            let s = signal(r, cgroupKillPath: cgroupKillPath)
            if mayBeOOM(s) {
                held.append((s, 0))
                return
            }
            out.append(s)
        case Int(KT_KIND_OOM_VICTIM.rawValue):
            guard size >= MemoryLayout<kt_oom>.size else { return }
            let r = data.loadUnaligned(as: kt_oom.self)
            let cgroup = Self.cgroupPath(r.cgpath, length: r.cgpath_len, truncated: r.flags & UInt32(KT_FLAG_PATH_TRUNCATED) != 0)
            let sender = Int32(bitPattern: r.sender.tid), victim = Int32(bitPattern: r.target.tgid)
            if let i = held.lastIndex(where: { $0.signal.sender.tid == sender && $0.signal.target.process.pid == victim }) {
                var s = held.remove(at: i).signal
                s.cause = .oom(memoryCgroup: cgroup)
                out.append(s)
            }
        case Int(KT_KIND_CONTEXT.rawValue):
            guard size >= MemoryLayout<kt_context>.size else { return }
            context(data.loadUnaligned(as: kt_context.self))
        case Int(KT_KIND_CGROUP.rawValue):
            guard size >= MemoryLayout<kt_cgroup>.size else { return }
            let r = data.loadUnaligned(as: kt_cgroup.self)
            let path = Self.path(r.path, length: r.path_len, truncated: r.flags & UInt32(KT_CGROUP_TRUNCATED) != 0)
            if cgroups.updateValue(path, forKey: r.cgroup_id) == nil {
                cgroupOrder.append(r.cgroup_id)
                if cgroupOrder.count > cgroupLimit {
                    for id in cgroupOrder.prefix(cgroupLimit / 2) {
                        cgroups[id] = nil
                        forgetCgroup(id)
                    }
                    cgroupOrder.removeFirst(cgroupLimit / 2)
                }
            }
        default:
            return
        }
    }

    private func context(_ r: kt_context) {
        let id = ProcessIdentity(pid: Int32(bitPattern: r.key.tgid), startNanoseconds: r.key.start_boottime)
        let flags = r.flags
        let c = Context(
            execID: r.validity.exec_id,
            parent: ProcessIdentity(pid: Int32(bitPattern: r.validity.parent_tgid), startNanoseconds: r.validity.parent_start_boottime),
            argv: r.args_len > 0 ? withUnsafeBytes(of: r.args) { Array($0.prefix(Int(min(r.args_len, UInt32(KT_ARGS_LEN))))) } : nil,
            argvTruncated: flags & UInt32(KT_CTX_ARGS_TRUNCATED) != 0,
            exe: Self.exePath(r), ancestors: Self.ancestors(r),
            ancestryTruncated: flags & UInt32(KT_CTX_ANCESTRY_TRUNCATED) != 0)
        if contexts.updateValue(c, forKey: id) == nil {
            contextOrder.append(id)
            if contextOrder.count > contextLimit {
                for old in contextOrder.prefix(contextLimit / 2) {
                    contexts[old] = nil
                    forgetContext(old)
                }
                contextOrder.removeFirst(contextLimit / 2)
            }
        }
    }

    /// The context the program sent for this signal's sender, execve and parent.
    private func context(for r: kt_signal) -> Context? {
        let id = ProcessIdentity(pid: Int32(bitPattern: r.sender.tgid), startNanoseconds: r.sender.start_boottime)
        if let c = contexts[id], c.execID == r.exec_id, c.parent.pid == Int32(bitPattern: r.parent_tgid),
           c.parent.startNanoseconds == r.parent_start_boottime {
            return c
        }
        contextsMissing += 1
        contexts[id] = nil
        forgetContext(id)
        return nil
    }

    private func cgroupPath(_ id: UInt64) -> [UInt8]? {
        if let path = cgroups[id] { return path }
        forgetCgroup(id)
        return nil
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

    /// The names of the previous record's sender, target and parent: a busy sender's repeat,
    /// and each new array is an allocation (the profile at 60,000 signals/s).
    private var lastComms: [(key: (UInt64, UInt64), bytes: [UInt8])] = Array(repeating: ((0, 0), []), count: 3)

    private func comm<T>(_ tuple: T, slot: Int) -> [UInt8] {
        let key = withUnsafeBytes(of: tuple) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        if lastComms[slot].key == key && key != (0, 0) { return lastComms[slot].bytes }
        let bytes = Self.string(tuple)
        lastComms[slot] = (key, bytes)
        return bytes
    }

    private func task(_ t: kt_task, slot: Int) -> TracedTask {
        TracedTask(process: ProcessIdentity(pid: Int32(bitPattern: t.tgid), startNanoseconds: t.start_boottime),
                   tid: Int32(bitPattern: t.tid), comm: comm(t.comm, slot: slot), cgroupID: t.cgroup_id,
                   pidNamespace: t.pidns_inum, namespacePid: Int32(bitPattern: t.ns_tgid))
    }

    private func signal(_ r: kt_signal, cgroupKillPath: String?) -> TracedSignal {
        let flags = r.flags
        let sender = task(r.sender, slot: 0)
        let target = task(r.target, slot: 1)
        var cause: TraceCause
        var syscallNumber: Int32?
        let code = r.si_code, sig = r.sig
        switch Int(r.cause) {
        case Int(KT_CAUSE_CGROUP_KILL.rawValue):
            cause = .cgroupKill(cgroup: cgroupKillPath)
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
        senderTask.cgroupPath = cgroupPath(r.sender.cgroup_id)
        targetTask.cgroupPath = cgroupPath(r.target.cgroup_id)
        let kthread = flags & UInt32(KT_FLAG_KTHREAD) != 0
        let parent = ProcessIdentity(pid: Int32(bitPattern: r.parent_tgid), startNanoseconds: r.parent_start_boottime)
        let parentComm = comm(r.parent_comm, slot: 2)
        let context = context(for: r)
        var s = TracedSignal(
            bootNanoseconds: r.boot_ns, time: clock.wallTime(bootNanoseconds: r.boot_ns),
            signal: sig, code: code, processDirected: r.group != 0,
            result: SignalResult(rawValue: r.result) ?? .delivered, syscallNumber: syscallNumber, cause: cause,
            sender: senderTask, target: targetTask, uid: r.uid, euid: r.euid, loginUID: r.loginuid, sessionID: r.sessionid,
            parent: parent, parentComm: parentComm, argv: context?.argv,
            argvTruncated: context?.argvTruncated ?? false,
            exe: kthread ? nil : context?.exe, senderIsKernelThread: kthread)
        if let context {
            s.ancestors = context.ancestors
            s.ancestryTruncated = context.ancestryTruncated
        } else {
            // What the signal record proves: the parent; the rest is read from /proc while it lives.
            s.contextMissing = true
            if parent.pid > 0 {
                s.ancestors = [TracedAncestor(process: parent, comm: parentComm)]
                s.ancestryTruncated = parent.pid != 1
            }
        }
        return s
    }

    /// The parents the BPF program read, the sender's parent first.
    static func ancestors(_ r: kt_context) -> [TracedAncestor] {
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
    static func cgroupPath<T>(_ tuple: T, length: UInt32, truncated: Bool) -> String? {
        guard length > 0 else { return nil }
        let bytes = withUnsafeBytes(of: tuple) { Array($0.prefix(Int(min(length, UInt32(KT_CGPATH_LEN))))) }
        return String(decoding: joinComponents(bytes, truncated: truncated), as: UTF8.self)
    }

    /// The executable as the kernel knew it at the event (a `kill` that exits a moment
    /// later is still named), from the root of its mount.
    static func exePath(_ r: kt_context) -> [UInt8]? {
        guard r.exe_len > 0 else { return nil }
        let bytes = withUnsafeBytes(of: r.exe) { Array($0.prefix(Int(min(r.exe_len, UInt32(KT_EXE_LEN))))) }
        return joinComponents(bytes, truncated: r.flags & UInt32(KT_CTX_EXE_TRUNCATED) != 0)
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
