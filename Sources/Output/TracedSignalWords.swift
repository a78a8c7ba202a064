import Foundation
import Queries

/// The tracer's record of a kill, in the words an answer uses.
public enum TracedSignalWords {
    /// "pid 3625 (sleep) was killed through cgroup.kill of /app/worker by pid 3720 (sh)".
    /// `initKill`: for a namespace teardown or a parent-death signal, the record of the
    /// init's or the parent's own kill.
    public static func sentence(_ r: TracedSignalRow, initKill: TracedSignalRow? = nil) -> String {
        sentence(r, initKill: initKill, named: { name($0) })
    }

    /// `named` shows a name the kernel held (chosen by whoever ran the process) in an
    /// output's style (escaped for a terminal, inert in Markdown).
    /// What the answer knows of where the processes lived and who was behind a kill,
    /// already in words (`ProcessContextText`): the chain of causes in one sentence.
    struct Places {
        /// `pod shop/cart-7d9, container java (containerd 4f3c2b1a0e9d)`.
        var target: String?
        /// The target's namespace init is a container's (the target lives in one).
        var inContainer = false
        /// `cron.service`: where the sender lived (cgroup.kill's writer).
        var sender: String?
        /// `behind it: containerd-shim (pid 3900) ← …`: behind the init's killer.
        var initBehind: String?
        /// The pod or unit of the cgroup the cause names (cgroup.kill's, the OOM's memory cgroup).
        var causeCgroup: String?
    }

    static func sentence(_ r: TracedSignalRow, initKill: TracedSignalRow?, named: ([UInt8]) -> String,
                         places: Places = Places()) -> String {
        func name(_ b: [UInt8]?) -> String { named(b ?? []) }
        let target = "pid \(r.targetPid) (\(name(r.targetComm)))" + (places.target.map { " in " + $0 } ?? "")
        let sender = "pid \(r.senderPid) (\(name(r.senderComm)))"
        let sig = r.signalName
        var s: String
        switch r.cause {
        case "syscall":
            s = "\(target) was sent \(sig) by \(sender) through \(r.syscall ?? "a signal syscall")"
        case "cgroup-kill":
            s = "\(target) was killed through cgroup.kill of \(r.causeDetail.map(name) ?? "its cgroup")"
                + (places.causeCgroup.map { " (\($0))" } ?? "") + " by \(sender)" + (places.sender.map { " in " + $0 } ?? "")
        case "pidns-teardown":
            s = "\(target) was killed by the kernel when its \(places.inContainer ? "container's" : "pid namespace's") init, \(sender), exited"
            if let k = initKill {
                s += "; pid \(k.targetPid) was sent \(k.signalName) by pid \(k.senderPid) (\(name(k.senderComm)))"
                if k.cause == "syscall", let call = k.syscall { s += " through \(call)" }
                if let b = places.initBehind { s += "; " + b }
            }
        case "oom":
            s = "\(target) was killed by the kernel's OOM killer"
                + (r.causeDetail.map { " (memory cgroup \(name($0))" + (places.causeCgroup.map { ", " + $0 } ?? "") + ")" } ?? "")
                + " while \(r.senderPid == r.targetPid ? "it" : sender) allocated memory"
        case "cpu-limit":
            s = "\(target) was sent \(sig) by the kernel: it reached its CPU-time limit (RLIMIT_CPU)"
        case "seccomp":
            s = "\(target) was sent \(sig) by the kernel: a seccomp filter refused a syscall"
        case "parent-death":
            // The kernel sends it when the thread that forked the target exits, though the
            // rest of the parent may live on: that thread is the sender.
            if r.senderTid != r.senderPid {
                s = "\(target) was sent \(sig) when the thread of its parent that forked it, thread \(r.senderTid) "
                    + "(\(name(r.senderComm))) of pid \(r.senderPid), exited (PR_SET_PDEATHSIG)"
            } else {
                s = "\(target) was sent \(sig) when its parent, \(sender), exited (PR_SET_PDEATHSIG)"
            }
            if let k = initKill {
                s += "; pid \(k.targetPid) was sent \(k.signalName) by pid \(k.senderPid) (\(name(k.senderComm)))"
                if k.cause == "syscall", let call = k.syscall { s += " through \(call)" }
                if let b = places.initBehind { s += "; " + b }
            }
        default:
            s = "\(target) was sent \(sig) by the kernel, in \(sender)'s context"
        }
        return s + outcome(r)
    }

    /// What the kernel did with it, as the `via` line's last word.
    static func result(_ r: TracedSignalRow) -> String {
        switch r.result {
        case "delivered": return "delivered"
        case "ignored": return "ignored by the kernel (the target was already exiting, a zombie, or an init that ignores it)"
        case "pending": return "already pending: this one added nothing"
        default: return "not queued (\(r.result))"
        }
    }

    static func outcome(_ r: TracedSignalRow) -> String {
        switch r.result {
        case "delivered": return ""
        case "ignored": return " — the kernel ignored it (the target was already exiting, a zombie, or an init that ignores it)"
        case "pending": return " — it was already pending: this one added nothing"
        default: return " — the kernel could not queue it (\(r.result))"
        }
    }

    static func name(_ bytes: [UInt8]?) -> String {
        SafeText.line(String(decoding: bytes ?? [], as: UTF8.self))
    }
}
