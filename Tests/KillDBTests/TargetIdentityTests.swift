import Foundation
import KillDB
import Output
import Queries
import Store
import Testing

/// Which process a signal reached, when the log's numbers are not simply its pid: a pid
/// used by several processes in turn, a process group, a name that looks like a pattern
/// or is printed escaped. (Threads and pid namespaces on the real kernel: TargetKernelTests.)
@Suite("who: which process a signal reached")
struct TargetIdentityTests {
    /// A signal syscall on x86_64 (kill 62, tkill 200, tgkill 234) from `comm`.
    static func syscall(_ stamp: String, nr: Int, _ args: [Int64], success: Bool = true, exit: Int = 0,
                        pid: Int = 4242, comm: String = "bash", exe: String = "/usr/bin/bash") -> String {
        let a = (args + [0, 0, 0, 0]).prefix(4).map { String(UInt64(bitPattern: $0), radix: 16) }
        return "type=SYSCALL msg=audit(\(stamp)): arch=c000003e syscall=\(nr) success=\(success ? "yes" : "no") exit=\(exit) a0=\(a[0]) a1=\(a[1]) a2=\(a[2]) a3=\(a[3]) items=0 ppid=4000 pid=\(pid) auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"\(comm)\" exe=\"\(exe)\" key=\"killdbtest\"\n"
    }

    static func event(_ stamp: String, nr: Int = 62, _ args: [Int64], targets: [(Int, String)], success: Bool = true,
                      exit: Int = 0, sender: Int = 4242) -> String {
        syscall(stamp, nr: nr, args, success: success, exit: exit, pid: sender)
            + targets.map { AuditLine.objPID(stamp, pid: $0.0, comm: $0.1) }.joined()
            + AuditLine.proctitle(stamp, argv: ["kill", "-9", "\(args[0])"])
    }

    func store(_ dir: URL, _ log: String) throws -> SignalStore {
        let url = dir.appendingPathComponent("audit.log")
        try TestLogs.write(log, to: url)
        try TestLogs.age(url)
        let db = dir.appendingPathComponent("k.sqlite")
        _ = try TestLogs.ingest([url], db: db)
        return try SignalStore.openReadOnly(path: db.path)
    }

    func text(_ q: SignalQuery, _ store: SignalStore) throws -> String {
        WhoReport.text(try Who.ask(q, in: store), WhoFixture.context)
    }

    @Test("pid 28932 used three times, twice by one name: each kill says which process it reached")
    func pidReuse() throws {
        try TestLogs.withScratch { dir in
            // worker (killed), worker again (SIGTERM, then killed), then an nginx.
            let log = Self.event("1795600000.100:10", [28932, 9], targets: [(28932, "worker")], sender: 100)
                + Self.event("1795600600.100:11", [28932, 15], targets: [(28932, "worker")], sender: 200)
                + Self.event("1795600601.100:12", [28932, 9], targets: [(28932, "worker")], sender: 200)
                + Self.event("1795601200.100:13", [28932, 15], targets: [(28932, "nginx")], sender: 300)
            let store = try store(dir, log)
            var q = SignalQuery()
            q.targetPid = 28932
            q.signals = .all
            let answer = try Who.ask(q, in: store)
            #expect(answer.entries.map { $0.signal?.senderPid } == [300, 200, 200, 100])
            // The answer is the third process: two kills on record ended the ones before it.
            #expect(answer.entries[0].earlierEnds.map(\.time) == [1795600000.1, 1795600601.1])
            #expect(answer.entries.dropFirst().map(\.sameProcess) == [.earlier(.init(time: 1795600601.1, byKernel: false)),
                                                                      .earlier(.init(time: 1795600601.1, byKernel: false)),
                                                                      .earlier(.init(time: 1795600000.1, byKernel: false))])
            let out = WhoReport.text(answer, WhoFixture.context)
            #expect(out.contains("process   not the first with pid 28932 on record: a SIGKILL the kernel accepted at 2026-11-25T09:56:41.100Z most likely ended the process that had it before (2 such ends on record); --before 2026-11-25T09:56:41.100Z asks about earlier ones"), "\(out)")
            #expect(out.components(separatedBy: "[an earlier process with this pid]").count == 4, "\(out)")

            // Asked about the second worker: its SIGTERM and its kill are one process; the
            // first worker's kill ended another.
            q.before = 1795600601.2
            let second = try Who.ask(q, in: store)
            #expect(second.entries.map { $0.signal?.senderPid } == [200, 200, 100])
            #expect(second.entries[0].earlierEnds.map(\.time) == [1795600000.1])
            #expect(second.entries[1].sameProcess == .cannotTell)
            #expect(second.entries[2].sameProcess == .earlier(.init(time: 1795600000.1, byKernel: false)))
            let secondText = WhoReport.text(second, WhoFixture.context)
            #expect(secondText.contains("the log cannot tell whether they reached this process or an earlier one"), "\(secondText)")
            let json = WhoReport.json(second)
            #expect(json.contains("\"same_process\":\"cannot_tell\"") && json.contains("\"same_process\":\"earlier_process\""), "\(json)")
            #expect(json.contains("\"earlier_process_ends\":[1795600000.1]"), "\(json)")

            // Another name with nothing in between is only perhaps another process.
            q.before = nil
            q.signals = .only([15])
            let names = WhoReport.text(try Who.ask(q, in: store), WhoFixture.context)
            #expect(names.contains("pid 28932 (worker) [an earlier process with this pid]"), "\(names)")
        }
    }

    @Test("who --pid=-N: the kill of process group N, one kill with every process it reached")
    func processGroup() throws {
        try TestLogs.withScratch { dir in
            let log = Self.event("1795600000.100:10", [-28620, 9], targets: [(28620, "sleep"), (28621, "sleep"), (28622, "sleep")])
                + Self.event("1795600001.100:11", [28621, 9], targets: [(28621, "sleep")])
            let store = try store(dir, log)
            var q = SignalQuery()
            q.targetPid = -28620
            let answer = try Who.ask(q, in: store)
            #expect(answer.entries.count == 1 && answer.entries[0].group.count == 2)
            #expect(answer.rows.count == 3)
            let out = WhoReport.text(answer, WhoFixture.context)
            #expect(out.hasPrefix("SIGKILL to process group 28620, which reached 3 processes at "), "\(out)")
            #expect(out.contains("reached   pid 28620 (sleep), pid 28621 (sleep), pid 28622 (sleep)"), "\(out)")
            #expect(out.contains("kill(-28620, SIGKILL) on x86_64: accepted; process group 28620"), "\(out)")
            #expect(WhoReport.json(answer).contains("\"group_targets\":[{\"target_pid\":28620"), "\(WhoReport.json(answer))")

            // On the command line: --pid=-N is the group, not "nothing on record".
            let cli = try KillDBCLI.require()
            let r = cli.run(["who", "--db", dir.appendingPathComponent("k.sqlite").path, "--pid=-28620"])
            #expect(r.status == 0 && r.stdout.contains("process group 28620, which reached 3 processes"), "\(r)")
        }
    }

    @Test("without the tracer, a kill that returned 0 was accepted, not delivered")
    func accepted() throws {
        try TestLogs.withScratch { dir in
            let store = try store(dir, Self.event("1795600000.100:10", [500, 9], targets: [(500, "zombie")]))
            var q = SignalQuery()
            q.targetPid = 500
            let out = try text(q, store)
            #expect(out.contains("via       kill(500, SIGKILL) on x86_64: accepted\n") && !out.contains("delivered"), "\(out)")
            #expect(WhoReport.json(try Who.ask(q, in: store)).contains("\"outcome\":\"accepted\""))
        }
    }

    @Test("a name finds the exact name and the pattern's matches; killdb's escaped form reads back; a malformed pattern is a usage error")
    func names() throws {
        try TestLogs.withScratch { dir in
            // The kernel logs a name with control bytes or spaces in hex.
            let hostile = "1795600000.100:10"
            let log = Self.syscall(hostile, nr: 62, [600, 9])
                + "type=OBJ_PID msg=audit(\(hostile)): opid=600 oauid=1000 ouid=1000 oses=3 ocomm=\(AuditLine.hex(Array("evil\u{1b}[31m x".utf8)))\n"
                + AuditLine.proctitle(hostile, argv: ["kill", "-9", "600"])
                + Self.event("1795600001.100:11", [601, 9], targets: [(601, "evil[x")])
                + Self.event("1795600002.100:12", [602, 9], targets: [(602, "evilx")])
            let store = try store(dir, log)
            func pids(_ name: String) throws -> [Int64?] {
                var q = SignalQuery()
                q.targetComm = name
                return try Who.ask(q, in: store).rows.map(\.targetPid)
            }
            let printed = SafeText.escape(Array("evil\u{1b}[31m x".utf8))
            #expect(printed == "evil\\e[31m x")
            #expect(try pids(printed) == [600])
            #expect(try pids("evil[x") == [601])
            #expect(try pids("evil*") == [602, 601, 600])
            #expect(try pids("evil[[]x") == [601])
            #expect(throws: QueryError.self) { try pids("nosuch[x") }
            let cli = try KillDBCLI.require()
            let db = dir.appendingPathComponent("k.sqlite").path
            let bad = cli.run(["who", "--db", db, "nosuch[x"])
            #expect(bad.status == 2 && bad.stderr.contains("is no process's name on record, and its [ is never closed"), "\(bad)")
            let good = cli.run(["who", "--db", db, printed])
            #expect(good.status == 0 && good.stdout.hasPrefix("SIGKILL to pid 600 (evil\\e[31m x)"), "\(good)")
        }
    }

    @Test("tgkill to a thread and a failed one: labelled by thread, found by tid and by the process's pid")
    func threadsFromLog() throws {
        try TestLogs.withScratch { dir in
            let log = Self.event("1795600000.100:10", [19139, 10], targets: [(19139, "s1-tgt-a")])
                + Self.event("1795600001.100:11", nr: 234, [19139, 19140, 10], targets: [(19139, "s1-tgt-a-w1")])
                + Self.event("1795600002.100:12", nr: 234, [19139, 19150, 9], targets: [], success: false, exit: -3)
                + Self.event("1795600003.100:13", nr: 234, [19139, 19141, 9], targets: [(19139, "s1-tgt-a-w2")])
            let store = try store(dir, log)
            var q = SignalQuery()
            q.targetPid = 19139
            q.signals = .all
            let out = try text(q, store)
            #expect(out.hasPrefix("SIGKILL to thread 19141 (s1-tgt-a-w2) of pid 19139 at "), "\(out)")
            #expect(out.contains("thread 19140 (s1-tgt-a-w1) of pid 19139") && !out.contains("another"), "\(out)")
            q.targetPid = 19141
            #expect(try Who.ask(q, in: store).rows.map(\.eventID) == ["1795600003.100:13"])
            q.targetPid = nil
            q.targetComm = "s1-tgt-a"
            #expect(try Who.ask(q, in: store).rows.count == 3)
            // The failed one is found under the process it named and the thread, as an attempt.
            for pid: Int64 in [19139, 19150] {
                var f = SignalQuery()
                f.targetPid = pid
                f.includeFailed = true
                let failed = try text(f, store)
                #expect(failed.contains("asked for thread 19150 of pid 19139 in its own pid namespace; no thread was reached"), "\(failed)")
            }
        }
    }

    @Test("kill(2) from a pid namespace: said so; the number is never taken for host pid 2")
    func namespacedFromLog() throws {
        try TestLogs.withScratch { dir in
            let log = Self.event("1795600000.100:10", [2, 9], targets: [(31000, "sleep")])
                + Self.event("1795600001.100:11", [25279, 9], targets: [], success: false, exit: -3)
            let store = try store(dir, log)
            var q = SignalQuery()
            q.targetPid = 31000
            #expect(try text(q, store).contains("kill(2, SIGKILL) on x86_64: accepted; pid 2 in the sender's pid namespace"))
            q.targetPid = 2
            q.includeFailed = true
            #expect(try Who.ask(q, in: store).entries.isEmpty)
            q.targetPid = 25279
            let asked = try text(q, store)
            #expect(asked.contains("SIGKILL at 2026-11-25 09:46:41.100 UTC, asked for pid 25279 in its own pid namespace; no process was reached: FAILED (ESRCH)"), "\(asked)")
        }
    }
}
