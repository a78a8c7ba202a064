import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The two causes the tracer names that no syscall makes and no other test drove on the real
/// kernel: a seccomp filter's verdict (SIGSYS, SYS_SECCOMP) and a parent-death signal
/// (PR_SET_PDEATHSIG). Each checks what the tracer stored and what `who --pid` prints, text
/// and JSON; where the audit log has a record of the same kill (SECCOMP), that both are one.
@Suite("the tracer's seccomp and parent-death kills, on the real kernel", .serialized, .enabled(if: TraceSandbox.shouldRun))
struct TracerCauseKernelTests {
    typealias T = TraceSandbox

    static func requireTracer() throws {
        if let p = T.availability.problems.first { throw T.Failure("BPF unavailable: \(p.reason)") }
    }

    /// A helper of Tests/Fixtures/senders, built once.
    static func build(_ name: String) -> String? {
        guard let cc = AuditSandbox.findTool("cc") else { return nil }
        let source = URL(fileURLWithPath: AuditSandbox.senderSource).deletingLastPathComponent().appendingPathComponent("\(name).c").path
        // Under its own name: the kernel's comm is the file name's first 15 bytes.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-helpers-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent(name).path
        guard (try? T.run(cc, ["-O0", "-pthread", "-o", out, source]))?.status == 0 else { return nil }
        return out
    }

    static let seccompVictim = build("seccomp_victim")
    static let pdeathParent = build("pdeath_parent")

    /// Exit status 0: something found; 1: nothing (as `grep`).
    static func who(_ pid: some BinaryInteger, _ db: URL, _ extra: [String] = [], status: Int32 = 0) throws -> String {
        let r = try CLI.run(["who", "--pid", String(pid), "--db", db.path] + extra)
        #expect(r.status == status, "\(r)")
        return r.stdout
    }

    static func whoJSON(_ pid: some BinaryInteger, _ db: URL, _ extra: [String] = []) throws -> [[String: Any]] {
        let out = try who(pid, db, extra + ["--format", "json"])
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["answers"] as? [[String: Any]] ?? []
    }

    /// Runs seccomp_victim MODE to its end; its pid and how it ended.
    static func runVictim(_ mode: String) throws -> (pid: pid_t, process: Process, output: String) {
        let victim = try #require(seccompVictim, "cannot build seccomp_victim")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: victim)
        p.arguments = [mode]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.processIdentifier, p, String(decoding: data, as: UTF8.self))
    }

    // MARK: seccomp

    @Test("SECCOMP_RET_KILL_PROCESS: SIGSYS with SYS_SECCOMP, the process its own sender; who --pid names the seccomp filter")
    func seccompKillProcess() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var victim: (pid: pid_t, process: Process, output: String)?
            let db = try T.trace("KILL,SYS", in: dir) { victim = try Self.runVictim("kill-process") }
            let v = try #require(victim)
            #expect(v.process.terminationReason == .uncaughtSignal && v.process.terminationStatus == SIGSYS, "\(v.output)")
            let rows = try T.rows(db, where: "target_pid = ?", [v.pid])
            let r = try #require(rows.first, "no record of the seccomp kill of pid \(v.pid)")
            #expect(rows.count == 1, "one SIGSYS, no SIGKILL: the kernel's group exit sends none through signal_generate: \(rows)")
            #expect(r["signal_name"] as String? == "SIGSYS" && r["si_code"] as Int64? == 1, "SYS_SECCOMP: \(r)")
            #expect(r["cause"] as String? == "seccomp", "\(r)")
            #expect(r["sender_pid"] as Int64? == Int64(v.pid) && r["sender_tid"] as Int64? == Int64(v.pid), "the kernel sends it in the task's own context")
            #expect(r["process_directed"] as Int64? == 0 && r["result"] as String? == "delivered")

            // who asks about SIGKILL unless told: the SIGSYS is named as left out, not hidden.
            let plain = try Self.who(v.pid, db, status: 1)
            #expect(plain.contains("SIGSYS"), "a seccomp kill must not vanish from the default answer: \(plain)")
            let out = try Self.who(v.pid, db, ["--signal", "SYS"])
            #expect(out.contains("SIGSYS to pid \(v.pid) (seccomp_victim)"), "\(out)")
            #expect(out.contains("pid \(v.pid) (seccomp_victim) was sent SIGSYS by the kernel: a seccomp filter refused a syscall"), "\(out)")
            #expect(out.contains("no audit record of this signal"), "\(out)")
            let json = try Self.whoJSON(v.pid, db, ["--signal", "SYS"])
            #expect(json.count == 1, "\(json)")
            #expect(json.first?["kind"] as? String == "traced" && json.first?["cause"] as? String == "seccomp", "\(json)")
            #expect(json.first?["si_code"] as? Int == 1 && json.first?["sender_pid"] as? Int == Int(v.pid))
        }
    }

    @Test("SECCOMP_RET_KILL_THREAD and RET_TRAP: what the kernel sends for each, and the answer right for each")
    func seccompThreadAndTrap() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var runs: [String: (pid: pid_t, process: Process, output: String)] = [:]
            let db = try T.trace("KILL,SYS", in: dir) {
                for mode in ["kill-thread", "kill-thread-mt", "trap", "trap-handled"] { runs[mode] = try Self.runVictim(mode) }
            }
            // The last thread killed: the kernel makes it a process kill (force_sig_seccomp).
            // RET_TRAP: the same SIGSYS, fatal by its default action, or handled.
            for mode in ["kill-thread", "trap", "trap-handled"] {
                let v = try #require(runs[mode])
                let rows = try T.rows(db, where: "target_pid = ?", [v.pid])
                #expect(rows.count == 1, "\(mode): \(rows)")
                let r = try #require(rows.first, "\(mode): no record")
                #expect(r["signal_name"] as String? == "SIGSYS" && r["si_code"] as Int64? == 1 && r["cause"] as String? == "seccomp", "\(mode): \(r)")
                #expect(r["sender_pid"] as Int64? == Int64(v.pid) && r["result"] as String? == "delivered", "\(mode): \(r)")
                let out = try Self.who(v.pid, db, ["--signal", "SYS"])
                #expect(out.contains("pid \(v.pid) (seccomp_victim) was sent SIGSYS by the kernel: a seccomp filter refused a syscall"), "\(mode): \(out)")
            }
            #expect(runs["kill-thread"]?.process.terminationStatus == SIGSYS && runs["trap"]?.process.terminationStatus == SIGSYS)
            // getppid is 110 on x86_64, 173 on arm64.
            #expect(runs["trap-handled"]?.output.contains("handled code=1 syscall=") == true,
                    "the handler saw SYS_SECCOMP: \(runs["trap-handled"]?.output ?? "")")
            #expect(runs["trap-handled"]?.process.terminationStatus == 0, "handled: the process lived on")
            // A thread killed while others live: do_exit(SIGSYS), no signal at all; the process lived.
            let mt = try #require(runs["kill-thread-mt"])
            #expect(mt.output.contains("survived") && mt.process.terminationStatus == 0, "\(mt.output)")
            #expect(try T.rows(db, where: "target_pid = ?", [mt.pid]).isEmpty, "the kernel sent no signal")
            let out = try Self.who(mt.pid, db, ["--signal", "all"], status: 1)
            #expect(!out.contains("was sent SIGSYS") && !out.contains("was killed"), "nothing killed pid \(mt.pid): \(out)")
            #expect(out.contains("Kernel tracer: ran from"), "the tracer ran and saw no signal to it: \(out)")
        }
    }

    @Test("a seccomp kill with audit running: the SECCOMP record and the tracer's record are one kill; a thread's kill is no process kill")
    func seccompWithAudit() throws {
        try Self.requireTracer()
        let sandbox = try AuditSandbox()
        defer { sandbox.stop() }
        try sandbox.start()
        try TestLogs.withScratch { dir in
            var process: (pid: pid_t, process: Process, output: String)?
            var thread: (pid: pid_t, process: Process, output: String)?
            let db = try T.trace("KILL,SYS", in: dir) {
                process = try Self.runVictim("kill-process")
                thread = try Self.runVictim("kill-thread-mt")
            }
            let p = try #require(process), t = try #require(thread)
            _ = try sandbox.waitForLine(containing: ["type=SECCOMP ", " pid=\(p.pid) "])
            _ = try sandbox.waitForLine(containing: ["type=SECCOMP ", " pid=\(t.pid) "])
            _ = try Ingest.run(paths: [sandbox.logDirectory], databasePath: db.path)

            let out = try Self.who(p.pid, db, ["--signal", "SYS"])
            #expect(out.contains("pid \(p.pid) (seccomp_victim) was killed by a seccomp filter"), "\(out)")
            #expect(out.contains("it made syscall getppid") && out.contains("(SECCOMP_RET_KILL_PROCESS)"),
                    "the SECCOMP record names the syscall and the action (libauparse calls 0x80000000 and 0x0 both kill): \(out)")
            #expect(out.contains("ended     by SIGSYS: the kernel logged the process's end (ANOM_ABEND)"),
                    "the ANOM_ABEND of the same death is part of this kill: \(out)")
            #expect(out.contains("and the kernel tracer's record (signal:signal_generate)"), "both evidences: \(out)")
            #expect(out.contains("a seccomp filter refused a syscall"), "the tracer's words beside the audit record's: \(out)")
            #expect(!out.contains("Earlier candidates"), "one kill, not two: \(out)")
            let json = try Self.whoJSON(p.pid, db, ["--signal", "SYS"])
            let seccomp = json.filter { ($0["kernel_kind"] as? String) == "seccomp" || ($0["kind"] as? String) == "traced" }
            #expect(seccomp.count == 1, "one kill with both evidences, not a kernel kill and a traced one: \(json)")
            #expect((seccomp.first?["traced"] as? [String: Any])?["cause"] as? String == "seccomp", "\(json)")
            #expect((seccomp.first?["ended"] as? [String: Any])?["kernel_kind"] as? String == "abend", "\(json)")
            #expect(seccomp.first?["only_a_thread"] as? Bool == false, "\(json)")
            #expect(json.count == 1, "no separate ANOM_ABEND kill: \(json)")
            let plain = try Self.who(p.pid, db, status: 1)
            #expect(plain.contains("1 kill by the kernel with another signal (SIGSYS) is not shown: add --signal all."), "\(plain)")

            // RET_KILL_THREAD of one thread of several: the SECCOMP record names the process's
            // pid, but only the thread died.
            #expect(t.output.contains("survived"))
            let mt = try Self.who(t.pid, db, ["--signal", "all"])
            #expect(!mt.contains("pid \(t.pid) (seccomp_victim) was killed"), "the process survived: \(mt)")
            #expect(mt.contains("pid \(t.pid) (seccomp_victim) had a thread killed by a seccomp filter"), "\(mt)")
            #expect(mt.contains("(SECCOMP_RET_KILL_THREAD)") && mt.contains("ended     not on record: SECCOMP_RET_KILL_THREAD ends the thread"), "\(mt)")
            let mtJSON = try Self.whoJSON(t.pid, db, ["--signal", "all"])
            #expect(mtJSON.count == 1 && mtJSON.first?["only_a_thread"] as? Bool == true && mtJSON.first?["ended"] == nil, "\(mtJSON)")
        }
    }

    // MARK: parent death

    /// pdeath_parent MODE, its child's pid once the child runs `sleep`, and the pipe whose
    /// closing makes the parent (or its forking thread) exit.
    static func startParent(_ mode: String) throws -> (parent: Process, child: pid_t, stdin: Pipe, stdout: FileHandle) {
        let helper = try #require(pdeathParent, "cannot build pdeath_parent")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: helper)
        p.arguments = [mode]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        var line = ""
        while !line.contains("\n") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        let child = try #require(line.split(separator: "\n").first.flatMap { $0.hasPrefix("child=") ? pid_t($0.dropFirst(6)) : nil }, "\(line)")
        try T.waitFor("the child's exec") {
            (try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8)) == "sleep\n"
        }
        return (p, child, input, output.fileHandleForReading)
    }

    static func waitGone(_ pid: pid_t) throws {
        try T.waitFor("pid \(pid) to die") { T.state(pid) == nil || T.state(pid) == "Z" }
    }

    @Test("PR_SET_PDEATHSIG, the parent exits: the child's SIGKILL names that parent, as the kernel reports it")
    func parentExits() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var run: (parent: Process, child: pid_t, stdin: Pipe, stdout: FileHandle)?
            defer { if let r = run { T.end([r.parent]); kill(r.child, SIGKILL) } }
            let db = try T.trace(in: dir) {
                let r = try Self.startParent("exit")
                run = r
                try r.stdin.fileHandleForWriting.close()
                r.parent.waitUntilExit()
                try Self.waitGone(r.child)
            }
            let r = try #require(run)
            let parent = Int64(r.parent.processIdentifier)
            #expect(r.parent.terminationStatus == 0)
            let rows = try T.rows(db, where: "target_pid = ?", [r.child])
            let row = try #require(rows.first, "no record of the parent-death kill of pid \(r.child)")
            #expect(row["cause"] as String? == "parent-death", "\(row)")
            #expect(row["sender_pid"] as Int64? == parent && row["sender_tid"] as Int64? == parent, "\(row)")
            #expect(row["sender_comm"] as String? == "pdeath_parent")
            #expect(row["si_code"] as Int64? == 0 && row["process_directed"] as Int64? == 1, "SEND_SIG_NOINFO, to the process: \(row)")
            #expect(row["result"] as String? == "delivered" && row["target_comm"] as String? == "sleep")
            #expect(row["syscall"] as String? == nil, "the parent was in exit_group, no signal syscall")

            let out = try Self.who(r.child, db)
            #expect(out.contains("SIGKILL to pid \(r.child) (sleep)"), "\(out)")
            #expect(out.contains("pid \(r.child) (sleep) was sent SIGKILL when its parent, pid \(parent) (pdeath_parent), exited (PR_SET_PDEATHSIG)"), "\(out)")
            #expect(!out.contains("was sent SIGKILL by pid"), "the parent exited; nothing killed it: \(out)")
            let json = try Self.whoJSON(r.child, db)
            #expect(json.count == 1, "\(json)")
            #expect(json.first?["cause"] as? String == "parent-death" && json.first?["sender_pid"] as? Int == Int(parent), "\(json)")
            #expect(json.first?["parent_kill"] == nil, "\(json)")
        }
    }

    @Test("PR_SET_PDEATHSIG, the parent killed: the answer names the parent and who killed it")
    func parentKilled() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var run: (parent: Process, child: pid_t, stdin: Pipe, stdout: FileHandle)?
            defer { if let r = run { T.end([r.parent]); kill(r.child, SIGKILL) } }
            let db = try T.trace(in: dir) {
                let r = try Self.startParent("exit")
                run = r
                kill(r.parent.processIdentifier, SIGKILL)
                r.parent.waitUntilExit()
                try Self.waitGone(r.child)
            }
            let r = try #require(run)
            let parent = Int64(r.parent.processIdentifier)
            let row = try #require(try T.rows(db, where: "target_pid = ?", [r.child]).first, "no record of pid \(r.child)'s kill")
            #expect(row["cause"] as String? == "parent-death" && row["sender_pid"] as Int64? == parent, "\(row)")
            let out = try Self.who(r.child, db)
            #expect(out.contains("pid \(r.child) (sleep) was sent SIGKILL when its parent, pid \(parent) (pdeath_parent), exited (PR_SET_PDEATHSIG); pid \(parent) was sent SIGKILL by pid \(getpid()) ("),
                    "\(out)")
            #expect(out.contains("through kill"), "\(out)")
            let json = try Self.whoJSON(r.child, db)
            let killed = try #require(json.first?["parent_kill"] as? [String: Any], "\(json)")
            #expect(killed["target_pid"] as? Int == Int(parent) && killed["sender_pid"] as? Int == Int(getpid()), "\(killed)")
            let chain = json.first?["cause_chain"] as? [[String: Any]] ?? []
            #expect(chain.map { $0["step"] as? String } .prefix(2) == ["parent-death", "syscall"], "\(chain)")
        }
    }

    @Test("PR_SET_PDEATHSIG fires on the exit of the thread that forked: the answer names that thread, the parent lives on")
    func parentThreadExits() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            var run: (parent: Process, child: pid_t, stdin: Pipe, stdout: FileHandle)?
            defer { if let r = run { T.end([r.parent]); kill(r.child, SIGKILL) } }
            let db = try T.trace(in: dir) {
                let r = try Self.startParent("thread")
                run = r
                try r.stdin.fileHandleForWriting.close()
                try Self.waitGone(r.child)
            }
            let r = try #require(run)
            let parent = Int64(r.parent.processIdentifier)
            #expect(r.parent.isRunning, "only its thread exited")
            let row = try #require(try T.rows(db, where: "target_pid = ?", [r.child]).first, "no record of pid \(r.child)'s kill")
            let tid = try #require(row["sender_tid"] as Int64?)
            #expect(row["cause"] as String? == "parent-death" && row["sender_pid"] as Int64? == parent, "\(row)")
            #expect(tid != parent && row["sender_comm"] as String? == "kdb-forker", "the forking thread: \(row)")
            let out = try Self.who(r.child, db)
            #expect(out.contains("pid \(r.child) (sleep) was sent SIGKILL when the thread of its parent that forked it, thread \(tid) (kdb-forker) of pid \(parent), exited (PR_SET_PDEATHSIG)"),
                    "\(out)")
        }
    }

    // MARK: every field of a record

    /// /proc/PID/stat's starttime, in clock ticks since boot.
    static func startTicks(_ pid: pid_t) -> Int64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 19 ? Int64(fields[19]) : nil
    }

    static func pidNamespace(_ pid: pid_t) -> Int64? {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid"),
              let open = link.firstIndex(of: "["), let close = link.firstIndex(of: "]") else { return nil }
        return Int64(link[link.index(after: open)..<close])
    }

    @Test("every field of a record, against what /proc and the kernel say of sender and target: ids, users, login uid and session, namespace, cgroup, start times, parent")
    func everyField() throws {
        try Self.requireTracer()
        let sender = try #require(T.sender, "cannot build signal_sender")
        try TestLogs.withScratch { dir in
            let mount = try TraceSandbox.mountCgroup2(in: dir)
            let cgroup = mount + "/killdb-test-\(UInt32.random(in: 0...UInt32.max))"
            var victim: Process?
            defer {
                if let v = victim { T.end([v]) }
                KernelOOMTests.removeCgroup(cgroup)
                umount2(mount, Int32(MNT_DETACH))
            }
            try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
            var st = stat()
            try #require(stat(cgroup, &st) == 0)
            let cgroupID = Int64(st.st_ino)
            var victimTicks: Int64?, output = "", before = 0.0, after = 0.0
            let db = try T.trace(in: dir) {
                let v = try T.start("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sleep", "1000"])
                victim = v
                try T.waitFor("the victim's exec") {
                    (try? String(contentsOfFile: "/proc/\(v.processIdentifier)/comm", encoding: .utf8)) == "sleep\n"
                }
                try T.write("\(v.processIdentifier)", to: cgroup + "/cgroup.procs")
                victimTicks = Self.startTicks(v.processIdentifier)
                before = Date().timeIntervalSince1970
                // A login uid and a session of its own, then the sender as nobody: exec keeps the pid.
                output = try T.run("/bin/sh", ["-c", "echo 4242 > /proc/self/loginuid && cat /proc/self/sessionid && echo && exec \(sender) --name kdb-fields --uid 65534 kill KILL \(v.processIdentifier)"]).output
                after = Date().timeIntervalSince1970
                v.waitUntilExit()
            }
            let v = try #require(victim)
            let session = try #require(output.split(separator: "\n").first.flatMap { Int64($0) }, "\(output)")
            #expect(output.contains("result=0"), "\(output)")
            let r = try #require(try T.rows(db, where: "target_pid = ?", [v.processIdentifier]).first, "no record")
            let senderPid = try #require(r["sender_pid"] as Int64?)
            #expect(r["sender_tid"] as Int64? == senderPid && r["sender_comm"] as String? == "kdb-fields", "\(r)")
            #expect(r["sender_uid"] as Int64? == 65534 && r["sender_euid"] as Int64? == 65534, "\(r)")
            #expect(r["sender_auid"] as Int64? == 4242 && r["sender_ses"] as Int64? == session, "login uid and session: \(r)")
            #expect(r["sender_pidns"] as Int64? == Self.pidNamespace(getpid()) && r["sender_ns_pid"] as Int64? == senderPid, "\(r)")
            #expect(r["sender_ppid"] as Int64? == Int64(getpid()), "\(r)")
            #expect(r["sender_parent_comm"] as String? == String((try? String(contentsOfFile: "/proc/self/comm", encoding: .utf8))?.dropLast() ?? ""), "\(r)")
            let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
            let parentNs = try #require(r["sender_parent_start_time"] as Double?)
            #expect(parentNs > 0, "\(r)")
            let targetNs = try #require(r["target_start_ns"] as Int64?)
            #expect(targetNs / (1_000_000_000 / hz) == victimTicks, "the target's start, as /proc/PID/stat counts it: \(r)")
            #expect((r["sender_start_ns"] as Int64? ?? 0) > targetNs, "the sender started after its target: \(r)")
            #expect(r["target_tid"] as Int64? == Int64(v.processIdentifier) && r["target_comm"] as String? == "sleep")
            #expect(r["target_pidns"] as Int64? == Self.pidNamespace(getpid()) && r["target_ns_pid"] as Int64? == Int64(v.processIdentifier))
            #expect(r["target_cgroup_id"] as Int64? == cgroupID, "the target's unified cgroup, by its inode: \(r)")
            #expect(r["signal"] as Int64? == 9 && r["si_code"] as Int64? == 0 && r["process_directed"] as Int64? == 1)
            #expect(r["result"] as String? == "delivered" && r["cause"] as String? == "syscall" && r["syscall"] as String? == "kill")
            let t = try #require(r["event_time"] as Double?)
            #expect(t >= before - 1 && t <= after + 1, "wall time from the boot clock: \(t) not in \(before)...\(after)")
            let who = try Self.who(v.processIdentifier, db)
            #expect(who.contains("pid \(v.processIdentifier) (sleep) was sent SIGKILL by pid \(senderPid) (kdb-fields) through kill"), "\(who)")
        }
    }

    @Test("killdb trace in the foreground: SIGINT as SIGTERM, a clean exit 0 and a complete session")
    func foregroundSIGINT() throws {
        try Self.requireTracer()
        try TestLogs.withScratch { dir in
            KernelSignalTests.lock.acquire()
            defer { KernelSignalTests.lock.release() }
            let db = dir.appendingPathComponent("fg.sqlite")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["trace", "--db", db.path]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
            var said = ""
            let deadline = Date().addingTimeInterval(20)
            while !said.contains("tracing ") {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty || Date() > deadline { throw T.Failure("killdb trace did not start: \(said)") }
                said += String(decoding: chunk, as: UTF8.self)
            }
            kill(p.processIdentifier, SIGINT)
            p.waitUntilExit()
            #expect(p.terminationReason == .exit && p.terminationStatus == 0)
            let sessions = try TestLogs.query(db, "SELECT status FROM trace_coverage")
            #expect(sessions.map { $0["status"] as String } == ["complete"], "\(sessions)")
        }
    }
}
