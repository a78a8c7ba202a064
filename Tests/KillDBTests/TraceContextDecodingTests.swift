import CLibbpf
import Foundation
import KernelTrace
import Testing
@testable import Tracer

/// The decoder keeps each process image's context (command line, executable, parents) and
/// each cgroup's path from the records the BPF program sends once, and completes later
/// signals from them: a signal is never given a context that is not provably its own.
@Suite("the tracer's records: contexts kept, and never given to another process image")
struct TraceContextDecodingTests {
    static let sender = ProcessIdentity(pid: 4242, startNanoseconds: 1_000)
    static let parent = ProcessIdentity(pid: 4200, startNanoseconds: 500)

    static func signal(exec: UInt64, parent: ProcessIdentity = parent, cgroup: UInt64 = 77, ns: UInt64 = 5_000) -> kt_signal {
        var r = kt_signal()
        r.kind = KT_KIND_SIGNAL.rawValue
        r.boot_ns = ns
        r.sender.tgid = UInt32(sender.pid)
        r.sender.tid = UInt32(sender.pid)
        r.sender.start_boottime = sender.startNanoseconds
        r.sender.cgroup_id = cgroup
        r.target.tgid = 9
        r.target.tid = 9
        r.target.cgroup_id = cgroup
        r.exec_id = exec
        r.parent_tgid = UInt32(parent.pid)
        r.parent_start_boottime = parent.startNanoseconds
        r.sig = 10
        r.syscall_nr = -1
        return r
    }

    static func context(exec: UInt64, argv: String, parent: ProcessIdentity = parent) -> kt_context {
        var c = kt_context()
        c.kind = KT_KIND_CONTEXT.rawValue
        c.key.tgid = UInt32(sender.pid)
        c.key.start_boottime = sender.startNanoseconds
        c.validity.exec_id = exec
        c.validity.parent_tgid = UInt32(parent.pid)
        c.validity.parent_start_boottime = parent.startNanoseconds
        var bytes: [UInt8] = argv.utf8.map { $0 == 0x20 ? UInt8(0) : $0 }
        bytes.append(0)
        withUnsafeMutableBytes(of: &c.args) { $0.copyBytes(from: bytes) }
        c.args_len = UInt32(bytes.count)
        c.ancestors_len = 1
        c.ancestors.0.tgid = UInt32(parent.pid)
        c.ancestors.0.start_boottime = parent.startNanoseconds
        return c
    }

    static func cgroup(_ id: UInt64, _ leafFirst: [String]) -> kt_cgroup {
        var c = kt_cgroup()
        c.kind = KT_KIND_CGROUP.rawValue
        c.cgroup_id = id
        var bytes: [UInt8] = []
        for name in leafFirst { bytes += Array(name.utf8) + [UInt8(0)] }
        withUnsafeMutableBytes(of: &c.path) { $0.copyBytes(from: bytes) }
        c.path_len = UInt32(bytes.count)
        return c
    }

    static func feed<T>(_ d: RecordDecoder, _ record: T) -> [TracedSignal] {
        var out: [TracedSignal] = []
        withUnsafeBytes(of: record) { d.decode($0.baseAddress!, size: $0.count, into: &out) }
        return out
    }

    @Test("a signal after its context has the context; after an execve the old one is never used")
    func execve() throws {
        let d = RecordDecoder()
        var forgotten: [ProcessIdentity] = []
        d.forgetContext = { forgotten.append($0) }
        _ = Self.feed(d, Self.cgroup(77, ["app.service", "system.slice"]))
        _ = Self.feed(d, Self.context(exec: 1, argv: "/bin/sh -c job"))
        let first = try #require(Self.feed(d, Self.signal(exec: 1)).first)
        #expect(first.commandLine == Array("/bin/sh -c job".utf8) && !first.contextMissing)
        #expect(first.sender.cgroupPath == Array("/system.slice/app.service".utf8))
        #expect(first.ancestors.map(\.process) == [Self.parent])

        // The process exec'd and its context record never arrived (lost in a full ring).
        let after = try #require(Self.feed(d, Self.signal(exec: 2, ns: 6_000)).first)
        #expect(after.contextMissing && after.argv == nil && after.exe == nil, "unknown, not the shell's: \(after)")
        #expect(after.ancestors.map(\.process) == [Self.parent], "what the signal's own record proves")
        #expect(forgotten == [Self.sender], "the kernel is made to send it again")
        _ = Self.feed(d, Self.context(exec: 2, argv: "/bin/kill -9 9"))
        let resent = try #require(Self.feed(d, Self.signal(exec: 2, ns: 7_000)).first)
        #expect(resent.commandLine == Array("/bin/kill -9 9".utf8) && !resent.contextMissing)
    }

    @Test("a reparented process's context is not its old one; a cgroup not sent is unknown and asked for again")
    func reparentAndCgroup() throws {
        let d = RecordDecoder()
        var forgottenCgroups: [UInt64] = []
        d.forgetCgroup = { forgottenCgroups.append($0) }
        _ = Self.feed(d, Self.context(exec: 1, argv: "worker"))
        let adopted = ProcessIdentity(pid: 1, startNanoseconds: 1)
        let s = try #require(Self.feed(d, Self.signal(exec: 1, parent: adopted, cgroup: 88)).first)
        #expect(s.contextMissing && s.argv == nil)
        #expect(s.sender.cgroupPath == nil && forgottenCgroups == [88, 88], "the sender's and the target's")
    }

    @Test("contexts the decoder drops from its bounded memory are deleted in the kernel too")
    func bounded() throws {
        let d = RecordDecoder(contextLimit: 4, cgroupLimit: 4)
        var forgotten: [ProcessIdentity] = []
        d.forgetContext = { forgotten.append($0) }
        for pid in 1...5 {
            var c = Self.context(exec: 1, argv: "p\(pid)")
            c.key.tgid = UInt32(pid)
            _ = Self.feed(d, c)
        }
        #expect(forgotten.map(\.pid) == [1, 2], "the oldest half, once over the limit")
        var r = Self.signal(exec: 1)
        r.sender.tgid = 1
        r.sender.start_boottime = Self.sender.startNanoseconds
        let s = try #require(Self.feed(d, r).first)
        #expect(s.contextMissing, "dropped here: unknown, never guessed")
    }
}
