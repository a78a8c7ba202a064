import Foundation
import GRDB
import KillDB
import Testing
import Tracer
#if canImport(Glibc)
import Glibc
#endif

/// `killdb trace` against the real kernel: each way a process is killed, and what the
/// tracer stored for it (the `traced_signals` view).
@Suite("the tracer, on the real kernel", .serialized, .enabled(if: TraceSandbox.shouldRun))
struct TracerKernelTests {
    typealias T = TraceSandbox

    /// What `who --pid` prints for `pid` from the tracer's database (no audit log read).
    static func who(_ pid: some BinaryInteger, _ db: URL, _ extra: [String] = []) throws -> String {
        let r = try CLI.run(["who", "--pid", String(pid), "--db", db.path] + extra)
        #expect(r.status == 0, "\(r)")
        return r.stdout
    }

    static func requireTracer() throws {
        if let p = T.availability.problems.first { throw T.Failure("BPF unavailable: \(p.reason)") }
    }

    @Test("a SIGKILL through each of the six signal syscalls: the syscall, the sender's command line and executable, delivered")
    func sixSyscalls() throws {
        try Self.requireTracer()
        let sender = try #require(T.sender, "cannot build signal_sender")
        try TestLogs.withScratch { dir in
            var victims: [String: Process] = [:]
            defer { T.end(Array(victims.values)) }
            let calls = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"]
            let db = try T.trace(in: dir) {
                for call in calls {
                    let v = try T.start("/bin/sleep", ["1000"])
                    victims[call] = v
                    let r = try T.run(sender, ["--name", "ksender-\(call.prefix(6))", call, "KILL", String(v.processIdentifier)])
                    #expect(r.output.contains("result=0"), "\(call): \(r.output)")
                    v.waitUntilExit()
                }
            }
            for call in calls {
                let pid = victims[call]!.processIdentifier
                let rows = try T.rows(db, where: "target_pid = ?", [pid])
                let r = try #require(rows.first, "no record of the \(call) kill of pid \(pid)")
                #expect(rows.count == 1)
                #expect(r["cause"] as String? == "syscall" && r["syscall"] as String? == call, "\(call): \(r)")
                #expect(r["result"] as String? == "delivered")
                #expect(r["signal_name"] as String? == "SIGKILL")
                #expect(r["target_comm"] as String? == "sleep")
                #expect((r["sender_cmdline"] as String?)?.contains("\(call) KILL \(pid)") == true, "\(r)")
                #expect(r["sender_exe"] as String? == sender)
                #expect(r["sender_ppid"] as Int64? == Int64(getpid()), "the sender's parent is this test")
                #expect(r["sender_uid"] as Int64? == 0)
                // SI_TKILL for the thread-directed calls, SI_USER for kill and pidfd, SI_QUEUE for rt_*.
                let code: Int64 = switch call {
                case "tkill", "tgkill": -6
                case "rt_sigqueueinfo", "rt_tgsigqueueinfo": -1
                default: 0
                }
                #expect(r["si_code"] as Int64? == code, "\(call)")
            }
        }
    }

    @Test("who --pid after a kill through each signal syscall: the audit event and the tracer's record are one kill")
    func sixSyscallsOneAnswer() throws {
        try Self.requireTracer()
        let sandbox = try AuditSandbox()
        defer { sandbox.stop() }
        try sandbox.start()
        try TestLogs.withScratch { dir in
            let calls = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"]
            var sent: [(call: String, victim: Int64, sender: pid_t)] = []
            let db = try T.trace(in: dir) {
                for call in calls {
                    let v = try sandbox.startVictim()
                    let pid = Int64(v.processIdentifier)
                    let s = try sandbox.send(.b64, call, signal: SIGKILL, pid: pid, tid: pid)
                    #expect(s.result == 0, "\(call): \(s)")
                    v.waitUntilExit()
                    _ = try sandbox.waitForEvent(senderPID: s.pid)
                    sent.append((call, pid, s.pid))
                }
            }
            _ = try Ingest.run(paths: [sandbox.logDirectory], databasePath: db.path)
            for s in sent {
                let who = try CLI.run(["who", "--pid", String(s.victim), "--db", db.path])
                #expect(who.status == 0, "\(s.call): \(who)")
                let out = who.stdout
                #expect(out.hasPrefix("SIGKILL to pid \(s.victim) (sleep)"), "\(s.call): \(out)")
                #expect(out.contains("sent by   pid \(s.sender)"), "\(s.call): \(out)")
                #expect(out.contains("\(s.call)(") && out.contains(": delivered"), "\(s.call): \(out)")
                #expect(out.contains("audit event ") && out.contains("and the kernel tracer's record (signal:signal_generate)"),
                        "both evidences, \(s.call): \(out)")
                #expect(!out.contains("Earlier candidates"), "one kill, not two: \(s.call): \(out)")
                // The tracer ran throughout: said so at this kill's own time, never "did not run".
                #expect(out.contains("Kernel tracer: ran from"), "\(s.call): \(out)")
                #expect(!out.contains("Kernel tracer: did not run") && !out.contains("was not tracing"), "\(s.call): \(out)")
            }
        }
    }

    @Test("a write to cgroup.kill: every process of the cgroup, cause cgroup-kill, the cgroup's path, the writer as sender")
    func cgroupKill() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            let mount = try TraceSandbox.mountCgroup2(in: dir)
            let name = "killdb-test-\(UInt32.random(in: 0...UInt32.max))"
            let cgroup = mount + "/" + name
            let worker = cgroup + "/worker"
            var victims: [Process] = []
            var writer: Process?
            defer {
                T.end(victims)
                KernelOOMTests.removeCgroup(worker)
                KernelOOMTests.removeCgroup(cgroup)
                umount2(mount, Int32(MNT_DETACH))
            }
            try FileManager.default.createDirectory(atPath: worker, withIntermediateDirectories: true)
            let db = try T.trace(in: dir) {
                for _ in 0..<2 {
                    let v = try T.start("/bin/sleep", ["1000"])
                    victims.append(v)
                    try T.write("\(v.processIdentifier)", to: worker + "/cgroup.procs")
                }
                let w = try T.start("/bin/sh", ["-c", "echo 1 > \(worker)/cgroup.kill"])
                writer = w
                w.waitUntilExit()
                for v in victims { v.waitUntilExit() }
            }
            let w = try #require(writer)
            for v in victims {
                let rows = try T.rows(db, where: "target_pid = ?", [v.processIdentifier])
                let r = try #require(rows.first, "no record of the cgroup.kill of pid \(v.processIdentifier)")
                #expect(r["cause"] as String? == "cgroup-kill", "\(r)")
                #expect(r["cause_detail"] as String? == "/\(name)/worker")
                #expect(r["sender_pid"] as Int64? == Int64(w.processIdentifier))
                #expect(r["sender_comm"] as String? == "sh")
                #expect((r["sender_cmdline"] as String?)?.contains("cgroup.kill") == true)
                #expect(r["result"] as String? == "delivered")
                #expect(r["si_code"] as Int64? == 0 && r["process_directed"] as Int64? == 0)
                let who = try CLI.run(["who", "--pid", String(v.processIdentifier), "--db", db.path])
                #expect(who.status == 0, "\(who)")
                #expect(who.stdout.contains("pid \(v.processIdentifier) (sleep) was killed through cgroup.kill of /\(name)/worker by pid \(w.processIdentifier) (sh)"),
                        "\(who.stdout)")
                #expect(who.stdout.contains("no audit record of this signal"), "\(who.stdout)")
            }
        }
    }

    @Test("a pid namespace's init killed: its other processes die by the teardown, sent by that init")
    func pidNamespaceTeardown() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var unshare: Process?
            var initPid: pid_t = 0
            var sleeps: [pid_t] = []
            defer { if let u = unshare { T.end([u]) } }
            let db = try T.trace(in: dir) {
                let u = try T.start("/usr/bin/unshare", ["--pid", "--fork", "/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"])
                unshare = u
                try T.waitFor("the namespace's init") { !T.children(of: u.processIdentifier).isEmpty }
                initPid = T.children(of: u.processIdentifier)[0]
                // Forked and exec'd: until its exec a child is another "sh".
                try T.waitFor("its two sleeps") {
                    let c = T.children(of: initPid)
                    return c.count == 2 && c.allSatisfy {
                        (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "sleep\n"
                    }
                }
                sleeps = T.children(of: initPid)
                kill(initPid, SIGKILL)
                u.waitUntilExit()
            }
            let initRows = try T.rows(db, where: "target_pid = ?", [initPid])
            let i = try #require(initRows.first, "no record of the init's kill")
            #expect(i["cause"] as String? == "syscall" && i["syscall"] as String? == "kill")
            #expect(i["sender_pid"] as Int64? == Int64(getpid()))
            #expect(i["target_ns_pid"] as Int64? == 1, "the init is pid 1 in its namespace")
            for pid in sleeps {
                let rows = try T.rows(db, where: "target_pid = ?", [pid])
                let r = try #require(rows.first, "no record of the teardown kill of pid \(pid)")
                #expect(r["cause"] as String? == "pidns-teardown", "\(r)")
                #expect(r["sender_pid"] as Int64? == Int64(initPid))
                #expect(r["cause_pidns"] as Int64? == i["target_pidns"] as Int64?)
                #expect(r["si_code"] as Int64? == 128)
                #expect(r["target_comm"] as String? == "sleep")
                let who = try CLI.run(["who", "--pid", String(pid), "--db", db.path])
                #expect(who.status == 0, "\(who)")
                #expect(who.stdout.contains("pid \(pid) (sleep) was killed by the kernel when its pid namespace's init, pid \(initPid) (sh), exited; pid \(initPid) was sent SIGKILL by pid \(getpid()) ("),
                        "\(who.stdout)")
            }
        }
    }

    @Test("a memory cgroup's OOM kill: cause oom, the victim's memory cgroup",
          .enabled(if: KernelOOMTests.realOOMAvailable == nil || ProcessInfo.processInfo.environment["CI"] == "true"))
    func memcgOOM() throws {
        try Self.requireTracer()
        if let reason = KernelOOMTests.realOOMAvailable { throw T.Failure("no OOM test possible: \(reason)") }
        try TestLogs.withScratch { dir in
            let hog = try KernelOOMTests.buildHog(in: dir)
            let name = "killdb-test-\(UInt32.random(in: 0...UInt32.max))"
            let cgroup = KernelOOMTests.memoryCgroupRoot + "/" + name
            try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
            defer { KernelOOMTests.removeCgroup(cgroup) }
            try KernelOOMTests.write("33554432", to: cgroup + "/memory.limit_in_bytes")
            if FileManager.default.fileExists(atPath: cgroup + "/memory.memsw.limit_in_bytes") {
                try KernelOOMTests.write("33554432", to: cgroup + "/memory.memsw.limit_in_bytes")
            }
            var pid: pid_t = 0
            let db = try T.trace(in: dir) {
                let p = try T.start("/bin/sh", ["-c", "echo $$ > \(cgroup)/cgroup.procs && exec \(hog.command)"])
                pid = p.processIdentifier
                p.waitUntilExit()
                #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
            }
            let rows = try T.rows(db, where: "target_pid = ?", [pid])
            let r = try #require(rows.first, "no record of the OOM kill of pid \(pid)")
            #expect(r["cause"] as String? == "oom", "\(r)")
            #expect(r["cause_detail"] as String? == "/\(name)")
            #expect(r["si_code"] as Int64? == 128)
            #expect(r["target_comm"] as String? == hog.comm)
            let who = try Self.who(pid, db)
            #expect(who.contains("pid \(pid) (\(hog.comm)) was killed by the kernel's OOM killer (memory cgroup /\(name))"), "\(who)")
        }
    }

    @Test("RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one, the process itself the sender")
    func cpuLimit() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var pid: pid_t = 0
            let db = try T.trace("KILL,XCPU", in: dir) {
                let p = try T.start("/usr/bin/prlimit", ["--cpu=1:2", "/bin/sh", "-c", "trap '' XCPU; while :; do :; done"])
                pid = p.processIdentifier
                p.waitUntilExit()
                #expect(p.terminationStatus == SIGKILL)
            }
            let rows = try T.rows(db, where: "target_pid = ?", [pid])
            #expect(rows.map { $0["signal_name"] as String } == ["SIGXCPU", "SIGKILL"], "\(rows)")
            for r in rows {
                #expect(r["cause"] as String? == "cpu-limit", "\(r)")
                #expect(r["sender_pid"] as Int64? == Int64(pid))
                #expect(r["si_code"] as Int64? == 128)
            }
            // prlimit execs sh: the command line read at the event is the shell's.
            #expect((rows.last?["sender_cmdline"] as String?)?.hasPrefix("/bin/sh -c trap") == true)
            let who = try Self.who(pid, db)
            #expect(who.contains("pid \(pid) (sh) was sent SIGKILL by the kernel: it reached its CPU-time limit (RLIMIT_CPU)"), "\(who)")
            let both = try Self.who(pid, db, ["--signal", "all"])
            #expect(both.contains("SIGXCPU  pid \(pid) (sh)") && both.contains("(tracer: cpu-limit)"), "the soft limit's SIGXCPU too: \(both)")
        }
    }

    @Test("SIGKILL to a zombie: the syscall succeeded, the kernel ignored it")
    func zombie() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var pid: pid_t = 0
            let db = try T.trace(in: dir) {
                var child: pid_t = 0
                var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
                defer { for a in argv { free(a) } }
                guard posix_spawn(&child, "/bin/true", nil, nil, &argv, environ) == 0 else { throw T.Failure("spawn") }
                pid = child
                try T.waitFor("the zombie") { T.state(child) == "Z" }
                #expect(kill(child, SIGKILL) == 0)
                var status: Int32 = 0
                waitpid(child, &status, 0)
            }
            let rows = try T.rows(db, where: "target_pid = ?", [pid])
            let r = try #require(rows.first, "no record of the SIGKILL to zombie \(pid)")
            #expect(r["result"] as String? == "ignored")
            #expect(r["cause"] as String? == "syscall" && r["syscall"] as String? == "kill")
            #expect(r["sender_pid"] as Int64? == Int64(getpid()))
            let who = try Self.who(pid, db)
            #expect(who.contains("pid \(pid) (true) was sent SIGKILL by pid \(getpid()) ("), "\(who)")
            #expect(who.contains("the kernel ignored it"), "a kill(2) that returned 0 and did nothing: \(who)")
        }
    }

    @Test("a shell that execs /bin/kill: the command line is /bin/kill's, read from its memory, not the script's")
    func execKill() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var victim: Process?
            var shell: pid_t = 0
            defer { if let v = victim { T.end([v]) } }
            let db = try T.trace(in: dir) {
                let v = try T.start("/bin/sleep", ["1000"])
                victim = v
                let sh = try T.start("/bin/sh", ["-c", "kill -0 $$; exec /bin/kill -9 \(v.processIdentifier)"])
                shell = sh.processIdentifier
                sh.waitUntilExit()
                v.waitUntilExit()
            }
            let rows = try T.rows(db, where: "target_pid = ?", [victim!.processIdentifier])
            let r = try #require(rows.first)
            #expect(r["sender_pid"] as Int64? == Int64(shell), "the same process, after its execve")
            #expect(r["sender_cmdline"] as String? == "/bin/kill -9 \(victim!.processIdentifier)")
            #expect(r["sender_comm"] as String? == "kill")
            #expect(r["sender_exe"] as String? == "/usr/bin/kill", "read at the event: /bin/kill has exited since")
            let who = try Self.who(victim!.processIdentifier, db)
            #expect(who.contains("was sent SIGKILL by pid \(shell) (kill) through kill"), "\(who)")
            #expect(who.contains("/bin/kill -9 \(victim!.processIdentifier)"), "the command read at the event: \(who)")
            #expect(!who.contains("kill -0"), "never the script's command line: \(who)")
        }
    }

    @Test("pid reuse in a new pid namespace (ns_last_pid): the same pid and name, two processes told apart by start time")
    func pidReuse() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            let script = """
                sleep 1000 & p=$!; sleep 0.3; kill -9 $p; wait $p
                echo $((p - 1)) > /proc/sys/kernel/ns_last_pid
                sleep 1000 & q=$!; sleep 0.3; kill -9 $q; wait $q
                echo "$p $q"
                """
            var output = ""
            let db = try T.trace(in: dir) {
                // bash, not dash: started from the test process, dash's `wait` never returns here.
                output = try T.run("/usr/bin/timeout", ["20", "/usr/bin/unshare", "--pid", "--fork", "/bin/bash", "-c", script]).output
            }
            let pids = output.split(separator: "\n").last.map { $0.split(separator: " ").compactMap { Int64($0) } } ?? []
            try #require(pids.count == 2 && pids[0] == pids[1], "the namespace did not reuse the pid: \(output)")
            let rows = try T.rows(db, where: "target_ns_pid = ? AND target_comm = 'sleep' AND sender_comm = 'bash' AND target_pidns = sender_pidns AND sender_ns_pid = 1", [pids[0]])
            // (A kill right after the fork can reach the child before its exec: then it is "bash".)
            let everything = try T.rows(db, where: "1")
            #expect(rows.count == 2, "\(everything)")
            if rows.count == 2 {
                #expect(rows[0]["target_start_ns"] as Int64? != rows[1]["target_start_ns"] as Int64?)
                #expect(rows[0]["target_pid"] as Int64? != rows[1]["target_pid"] as Int64?, "host pids differ")
                // Asked by the host pid of the second, the answer is that kill alone, not its namesake's.
                let second = rows[1]["target_pid"] as Int64
                let who = try Self.who(second, db)
                #expect(who.contains("pid \(second) (sleep) was sent SIGKILL by pid \(rows[1]["sender_pid"] as Int64) (bash) through kill"), "\(who)")
                #expect(!who.contains("pid \(rows[0]["target_pid"] as Int64) (sleep)"), "\(who)")
            }
        }
    }

    @Test("tgkill to a worker thread: the thread, its name, and the process it belongs to")
    func tgkillThread() throws {
        try Self.requireTracer()
        let sender = try #require(T.sender)
        try TestLogs.withScratch { dir in
            let source = dir.appendingPathComponent("threads.c")
            try TestLogs.write("""
                #include <pthread.h>
                #include <sys/prctl.h>
                #include <unistd.h>
                static void *worker(void *arg) { prctl(PR_SET_NAME, "kdb-worker"); for (;;) pause(); return arg; }
                int main(void) { pthread_t t; pthread_create(&t, 0, worker, 0); for (;;) pause(); }
                """, to: source)
            let binary = dir.appendingPathComponent("threads").path
            let cc = try #require(AuditSandbox.findTool("cc"))
            let built = try T.run(cc, ["-O0", "-pthread", "-o", binary, source.path])
            try #require(built.status == 0, "\(built.output)")
            var target: Process?
            var tid: pid_t = 0
            defer { if let t = target { T.end([t]) } }
            let db = try T.trace(in: dir) {
                let p = try T.start(binary, [])
                target = p
                let pid = p.processIdentifier
                try T.waitFor("the worker thread") {
                    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).count == 2
                }
                tid = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { pid_t($0) }.first { $0 != pid }!
                try T.waitFor("its name") {
                    (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/comm", encoding: .utf8)) == "kdb-worker\n"
                }
                _ = try T.run(sender, ["tgkill", "KILL", String(pid), String(tid)])
                p.waitUntilExit()
            }
            let rows = try T.rows(db, where: "target_pid = ?", [target!.processIdentifier])
            let r = try #require(rows.first)
            #expect(r["target_tid"] as Int64? == Int64(tid))
            #expect(r["target_comm"] as String? == "kdb-worker", "the thread's name")
            #expect(r["syscall"] as String? == "tgkill" && r["process_directed"] as Int64? == 0)
            #expect(r["result"] as String? == "delivered")
            let who = try Self.who(target!.processIdentifier, db)
            #expect(who.contains("pid \(target!.processIdentifier) (kdb-worker) was sent SIGKILL by pid "), "\(who)")
            #expect(who.contains("through tgkill"), "\(who)")
        }
    }

    @Test("records the ring buffer had no room for are counted in the kernel and stored as coverage, never silence")
    func losses() throws {
        try Self.requireTracer()
        let sender = try #require(T.sender)
        try TestLogs.withScratch { dir in
            var group: Process?
            var pgid: pid_t = 0
            defer {
                if pgid > 0 { kill(-pgid, SIGKILL) }
                if let g = group { T.end([g]) }
            }
            // One page holds two records: a kill of a group of 40 sleeps overflows it at once.
            let db = try T.trace(in: dir, ringBufferBytes: 4096) {
                let out = Pipe()
                let g = Process()
                g.executableURL = URL(fileURLWithPath: sender)
                g.arguments = ["group", "40"]
                g.standardOutput = out
                try g.run()
                group = g
                // It prints "pgid=" before forking, the rest once every sleep is started.
                var line = ""
                while !line.contains("\n") {
                    let data = out.fileHandleForReading.availableData
                    if data.isEmpty { break }
                    line += String(decoding: data, as: UTF8.self)
                }
                pgid = try #require(line.split(separator: " ").first { $0.hasPrefix("pgid=") }.flatMap { pid_t($0.dropFirst(5)) }, "\(line)")
                usleep(300_000)  // the sleeps exec
                kill(-pgid, SIGKILL)
                usleep(1_200_000)  // the loss counter is read every second
            }
            let coverage = try DatabaseQueue(path: db.path).read { try Row.fetchAll($0, sql: "SELECT * FROM trace_coverage") }
            let lost = coverage.first?["lost"] as Int64? ?? 0
            let stored = try T.rows(db, where: "1").count
            #expect(lost > 0, "a 4 KiB ring buffer cannot hold 40 records")
            #expect(stored + Int(lost) >= 40, "stored \(stored), lost \(lost): every kill is either stored or counted")
            let spans = try DatabaseQueue(path: db.path).read { try Row.fetchAll($0, sql: "SELECT * FROM trace_losses") }
            #expect(spans.reduce(0) { $0 + ($1["lost"] as Int64) } == lost)
            #expect(spans.allSatisfy { ($0["from_time"] as Double) <= ($0["to_time"] as Double) })
        }
    }

    @Test("--signals all: every signal but SIGURG a thread sends its own thread group (Go's preemption), filtered in the kernel")
    func allButSelfSIGURG() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            let source = dir.appendingPathComponent("urg.c")
            try TestLogs.write("""
                #define _GNU_SOURCE
                #include <signal.h>
                #include <sys/syscall.h>
                #include <unistd.h>
                int main(void) { for (int i = 0; i < 50; i++) syscall(SYS_tgkill, getpid(), gettid(), SIGURG); return 0; }
                """, to: source)
            let binary = dir.appendingPathComponent("urg").path
            let cc = try #require(AuditSandbox.findTool("cc"))
            let built = try T.run(cc, ["-O0", "-o", binary, source.path])
            try #require(built.status == 0, "\(built.output)")
            var selfSender: pid_t = 0
            var victim: Process?
            defer { if let v = victim { T.end([v]) } }
            let db = try T.trace("all", in: dir) {
                let p = try T.start(binary, [])
                selfSender = p.processIdentifier
                p.waitUntilExit()
                let v = try T.start("/bin/sleep", ["1000"])
                victim = v
                usleep(100_000)
                kill(v.processIdentifier, SIGURG)
                kill(v.processIdentifier, SIGUSR2)
            }
            #expect(try T.rows(db, where: "sender_pid = ? AND signal = 23", [selfSender]).isEmpty, "a thread's SIGURG to itself is left out")
            let toOther = try T.rows(db, where: "target_pid = ?", [victim!.processIdentifier]).map { $0["signal_name"] as String }
            #expect(toOther.starts(with: ["SIGURG", "SIGUSR2"]), "SIGURG to another process is kept: \(toOther)")
        }
    }

    @Test("a database locked by another writer: records wait in memory and are all stored once it is free")
    func busyDatabase() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var victims: [Process] = []
            defer { T.end(victims) }
            let db = try T.trace(in: dir) {
                let other = try DatabaseQueue(path: dir.appendingPathComponent("trace.sqlite").path)
                try other.writeWithoutTransaction { db in
                    try db.execute(sql: "BEGIN EXCLUSIVE")
                    for _ in 0..<3 {
                        let v = try T.start("/bin/sleep", ["1000"])
                        victims.append(v)
                        kill(v.processIdentifier, SIGKILL)
                        v.waitUntilExit()
                    }
                    usleep(2_500_000)  // past the tracer's busy timeout (1 s): its writes fail meanwhile
                    try db.execute(sql: "COMMIT")
                }
            }
            for v in victims {
                #expect(try T.rows(db, where: "target_pid = ?", [v.processIdentifier]).count == 1, "pid \(v.processIdentifier)")
            }
        }
    }

    @Test("the trace run is recorded: a session, its coverage, complete after a clean stop")
    func coverage() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            let db = try T.trace("KILL,TERM", in: dir) {}
            let rows = try DatabaseQueue(path: db.path).read { try Row.fetchAll($0, sql: "SELECT * FROM trace_coverage") }
            #expect(rows.count == 1)
            #expect(rows.first?["status"] as String? == "complete")
            #expect(rows.first?["signals"] as String? == "SIGKILL,SIGTERM")
            #expect(rows.first?["lost"] as Int64? == 0)
        }
    }
}

@Suite("killdb trace, the command")
struct TraceCommandTests {
    @Test("without privilege it says exactly why and exits 5; --signals is checked")
    func unprivileged() throws {
        let r = try CLI.run(["trace", "--db", "/tmp/killdb-never-\(getpid()).sqlite"], asUser: geteuid() == 0 ? "nobody" : nil)
        #expect(r.status == 5, "\(r)")
        #expect(r.stderr.contains("the tracer cannot run here"), "\(r.stderr)")
        #expect(r.stderr.contains("CAP_BPF") || r.stderr.contains("BTF") || r.stderr.contains("lockdown"), "\(r.stderr)")
        let bad = try CLI.run(["trace", "--signals", "KILL,NOPE"])
        #expect(bad.status == 2 && bad.stderr.contains("\"NOPE\" is not a signal"), "\(bad)")
        let help = try CLI.run(["trace", "--help"])
        for word in ["cgroup.kill", "--signals all", "traced_signals", "Examples"] {
            #expect(help.stdout.contains(word), "help lacks \(word)")
        }
    }

    @Test("signal lists: names, numbers, all")
    func filters() throws {
        #expect(try SignalFilter.parse("KILL") == .kill)
        #expect(try SignalFilter.parse("sigterm,9").signals == [9, 15])
        #expect(try SignalFilter.parse("KILL,TERM").mask == (1 << 8) | (1 << 14))
        let all = try SignalFilter.parse("all")
        #expect(all.all && all.signals.count == 64 && all.description == "all")
        #expect(throws: TracerError.self) { try SignalFilter.parse("0") }
        #expect(throws: TracerError.self) { try SignalFilter.parse("") }
    }
}
