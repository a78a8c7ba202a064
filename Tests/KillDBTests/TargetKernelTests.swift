import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndKernelTests {
    /// What the kernel logs about the target of a signal, on the real kernel: a thread's
    /// name under its process's pid, numbers of the sender's pid namespace, and a command
    /// line cached before an execve. Nested in the real-kernel suite (one auditd at a time).
    @Suite("targets and senders as the kernel logs them, on the real kernel")
    struct TargetKernelTests {
        func withSandbox(_ body: (AuditSandbox, String, KillDBCLI) throws -> Void) throws {
            let cli = try KillDBCLI.require()
            let sandbox = try AuditSandbox()
            defer { sandbox.stop() }
            try sandbox.start()
            try body(sandbox, sandbox.directory + "/killdb.sqlite", cli)
        }

        func ingest(_ sandbox: AuditSandbox, _ db: String) throws {
            _ = try Ingest.run(paths: [sandbox.logDirectory], databasePath: db)
        }

        static let threadedSource: String = {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/senders/threaded_target.c").path
        }()

        /// Starts `threaded_target NAME N` (built here); returns it, its pid and its threads' ids.
        func startThreaded(_ sandbox: AuditSandbox, name: String, threads: Int) throws -> (Process, Int64, [Int64]) {
            let exe = sandbox.directory + "/threaded_target"
            if !FileManager.default.fileExists(atPath: exe) {
                let r = try AuditSandbox.run(AuditSandbox.findTool("cc")!, ["-O0", "-pthread", "-o", exe, Self.threadedSource])
                try #require(r.status == 0, "cc threaded_target.c: \(r.stderr)")
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = [name, String(threads)]
            p.standardInput = FileHandle.nullDevice
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            var data = Data()
            while !data.contains(0x0a) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            var pid: Int64 = 0, tids: [Int64] = []
            for f in String(decoding: data, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                if f.hasPrefix("pid=") { pid = Int64(f.dropFirst(4)) ?? 0 }
                if f.hasPrefix("tids=") { tids = f.dropFirst(5).split(separator: ",").compactMap { Int64($0) } }
            }
            try #require(pid > 0 && tids.count == threads, "threaded_target printed \(String(decoding: data, as: UTF8.self))")
            return (p, pid, tids)
        }

        @Test("tgkill/tkill to a non-leader thread: labelled as a thread of its process, found by tid, pid and process name")
        func threads() throws {
            try withSandbox { sandbox, db, cli in
                let (target, pid, tids) = try startThreaded(sandbox, name: "s1-tgt-a", threads: 2)
                defer { if target.isRunning { kill(target.processIdentifier, SIGKILL) }; target.waitUntilExit() }
                let w1 = tids[0], w2 = tids[1]
                var senders: [pid_t] = []
                // The process itself (its leader is named s1-tgt-a), then each thread, then a
                // tgkill to a thread it does not have (ESRCH), then SIGKILL through thread w2.
                for (call, sig, t) in [("kill", SIGUSR1, pid), ("tgkill", SIGUSR1, w1), ("tgkill", SIGUSR1, w2),
                                       ("tgkill", SIGUSR1, 1), ("tkill", SIGKILL, w2)] {
                    let s = try sandbox.send(.b64, call, signal: sig, pid: call == "tkill" ? t : pid, tid: t)
                    #expect((s.result == 0) == (t != 1), "\(call) \(t): \(s)")
                    senders.append(s.pid)
                    usleep(20_000)
                }
                target.waitUntilExit()
                #expect(target.terminationReason == .uncaughtSignal && target.terminationStatus == SIGKILL)
                for s in senders { try sandbox.waitForEvent(senderPID: s) }
                try ingest(sandbox, db)

                let byPid = cli.run(["who", "--db", db, "--pid", "\(pid)", "--signal", "all", "--utc"])
                #expect(byPid.status == 0, "\(byPid)")
                #expect(byPid.stdout.hasPrefix("SIGKILL to thread \(w2) (s1-tgt-a-w2) of pid \(pid) at "), "\(byPid.stdout)")
                #expect(byPid.stdout.contains("tkill(\(w2), SIGKILL) on x86_64: accepted; thread \(w2) of pid \(pid)"), "\(byPid.stdout)")
                #expect(byPid.stdout.contains("thread \(w1) (s1-tgt-a-w1) of pid \(pid)"), "\(byPid.stdout)")
                #expect(byPid.stdout.contains("pid \(pid) (s1-tgt-a) "), "\(byPid.stdout)")
                // Two threads of one process are not two processes with one pid.
                #expect(!byPid.stdout.contains("another process") && !byPid.stdout.contains("an earlier process")
                        && !byPid.stdout.contains("perhaps another"), "\(byPid.stdout)")
                #expect(byPid.stdout.contains("1 failed attempt is not shown"), "\(byPid.stdout)")

                // The tid the sender named finds the signals to that thread.
                let byTid = cli.run(["who", "--db", db, "--pid", "\(w2)", "--signal", "all", "--format", "json"])
                #expect(byTid.status == 0, "\(byTid)")
                let entries = (try JSONSerialization.jsonObject(with: Data(byTid.stdout.utf8)) as? [String: Any])?["answers"] as? [[String: Any]] ?? []
                #expect(entries.count == 2, "\(byTid.stdout)")
                #expect(entries.allSatisfy { ($0["target_pid"] as? NSNumber)?.int64Value == pid && ($0["target_thread"] as? NSNumber)?.int64Value == w2
                                             && $0["target_kind"] as? String == "thread" }, "\(byTid.stdout)")

                // The process's name finds the signals to its threads, named otherwise.
                let byName = cli.run(["who", "--db", db, "s1-tgt-a", "--signal", "all", "--format", "json"])
                let named = (try JSONSerialization.jsonObject(with: Data(byName.stdout.utf8)) as? [String: Any])?["answers"] as? [[String: Any]] ?? []
                #expect(named.count == 4, "\(byName.stdout)")

                // The failed tgkill is an attempt at a thread of pid, not a kill of "pid 1".
                let failed = cli.run(["who", "--db", db, "--pid", "\(pid)", "--signal", "USR1", "--include-failed", "--utc"])
                #expect(failed.stdout.contains("asked for thread 1 of pid \(pid) in its own pid namespace; no thread was reached: FAILED (ESRCH)"),
                        "\(failed.stdout)")
                AuditSandbox.loud("who --pid \(pid) --signal all (threads):\n\(byPid.stdout)")
            }
        }

        /// The host pid of the first child of `parent` named `comm`.
        func child(of parent: pid_t, named comm: String, depth: Int = 3) -> pid_t? {
            let kids = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
            for k in kids.split(separator: " ").compactMap({ pid_t($0) }) {
                let name = (try? String(contentsOfFile: "/proc/\(k)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                if name == comm { return k }
                if depth > 0, let found = child(of: k, named: comm, depth: depth - 1) { return found }
            }
            return nil
        }

        @Test("a sender in its own pid namespace: kill(2) is said to be pid 2 there; an ESRCH names only what it asked for")
        func pidNamespace() throws {
            try withSandbox { sandbox, db, cli in
                let sender = sandbox.senderPaths[.b64]!
                // ESRCH: no process 25279 in a namespace holding only the sender.
                let lonely = try AuditSandbox.run("/usr/bin/unshare", ["--pid", "--fork", sender, "kill", "9", "25279"])
                #expect(lonely.status == 0 && lonely.stdout.contains("errno=3"), "\(lonely.stdout) \(lonely.stderr)")
                try sandbox.waitForLine(containing: ["type=SYSCALL", "a0=62bf", "key=\"\(sandbox.key)\""])

                // kill(2) from inside reaches the namespace's pid 2, a sleep with another host pid.
                let script = "sleep 1000 & sleep 0.5; \(sender) --name ns-sender kill 9 2; wait"
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
                p.arguments = ["--pid", "--fork", "/bin/bash", "-c", script]
                p.standardInput = FileHandle.nullDevice
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                var sleeper: pid_t?
                for _ in 0..<100 where sleeper == nil {
                    sleeper = child(of: p.processIdentifier, named: "sleep")
                    usleep(20_000)
                }
                defer {
                    if p.isRunning, let s = sleeper { kill(s, SIGKILL) }
                    p.waitUntilExit()
                }
                let host = try #require(sleeper, "no sleep under unshare")
                try sandbox.waitForLine(containing: ["type=OBJ_PID", "opid=\(host) "])
                p.waitUntilExit()
                try sandbox.waitForLine(containing: ["type=SYSCALL", "comm=\"ns-sender\"", "key=\"\(sandbox.key)\""])
                usleep(300_000)
                try ingest(sandbox, db)

                let hostAnswer = cli.run(["who", "--db", db, "--pid", "\(host)"])
                #expect(hostAnswer.status == 0, "\(hostAnswer)")
                #expect(hostAnswer.stdout.hasPrefix("SIGKILL to pid \(host) (sleep)"), "\(hostAnswer.stdout)")
                #expect(hostAnswer.stdout.contains("kill(2, SIGKILL) on x86_64: accepted; pid 2 in the sender's pid namespace"),
                        "\(hostAnswer.stdout)")
                // pid 2 on the host (kthreadd) was never its target.
                let two = cli.run(["who", "--db", db, "--pid", "2", "--include-failed"])
                #expect(!two.stdout.contains("ns-sender"), "\(two.stdout)")

                let asked = cli.run(["who", "--db", db, "--pid", "25279"])
                #expect(asked.status == 1 && asked.stdout.contains("1 failed attempt is not shown"), "\(asked)")
                let shown = cli.run(["who", "--db", db, "--pid", "25279", "--include-failed", "--utc"])
                #expect(shown.stdout.contains(", asked for pid 25279 in its own pid namespace; no process was reached: FAILED (ESRCH)"),
                        "\(shown.stdout)")
                #expect(!shown.stdout.contains("SIGKILL to pid 25279"), "\(shown.stdout)")
                let json = cli.run(["who", "--db", db, "--pid", "25279", "--include-failed", "--format", "json"])
                #expect(json.stdout.contains("\"target_kind\":\"none_reached\""), "\(json.stdout)")
                AuditSandbox.loud("who --pid \(host) (a kill from a pid namespace):\n\(hostAnswer.stdout)\n\(shown.stdout)")
            }
        }

        @Test("a pid reused by a second sleep after the first was killed: the earlier kill is marked as an earlier process's")
        func pidReuse() throws {
            try withSandbox { sandbox, db, cli in
                let first = try sandbox.startVictim()
                let pid = first.processIdentifier
                let one = try sandbox.send(.b64, "kill", signal: SIGKILL, pid: Int64(pid))
                first.waitUntilExit()
                try sandbox.waitForEvent(senderPID: one.pid)
                // The kernel hands out pid again when told the last one was pid - 1; another
                // process may fork in between, so try a few times.
                var second: Process?
                for _ in 0..<30 where second == nil {
                    try "\(pid - 1)".write(toFile: "/proc/sys/kernel/ns_last_pid", atomically: false, encoding: .utf8)
                    let p = try sandbox.startVictim()
                    if p.processIdentifier == pid { second = p } else { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
                }
                guard let second else {
                    AuditSandbox.loud("*** SKIPPED pid reuse: pid \(pid) was taken by another process each time ***")
                    return
                }
                usleep(1_200_000)  // two kills within a second are one dying process
                let two = try sandbox.send(.b64, "kill", signal: SIGKILL, pid: Int64(pid))
                second.waitUntilExit()
                try sandbox.waitForEvent(senderPID: two.pid)
                try ingest(sandbox, db)

                let who = cli.run(["who", "--db", db, "--pid", "\(pid)", "--utc"])
                #expect(who.status == 0, "\(who)")
                #expect(who.stdout.contains("sent by   pid \(two.pid) "), "\(who.stdout)")
                #expect(who.stdout.contains("process   not the first with pid \(pid) on record: a SIGKILL the kernel accepted at "), "\(who.stdout)")
                #expect(who.stdout.contains("pid \(pid) (sleep) [an earlier process with this pid]  pid \(one.pid) (sender64)"), "\(who.stdout)")
                // Asked about the earlier one, the answer is its own kill.
                let stamp = try #require(sandbox.logLines().first { $0.contains("type=SYSCALL") && $0.contains(" pid=\(one.pid) ") })
                let sec = stamp.components(separatedBy: "msg=audit(").last?.components(separatedBy: ":").first ?? ""
                let earlier = cli.run(["who", "--db", db, "--pid", "\(pid)", "--before", "@\(sec)"])
                #expect(earlier.stdout.contains("sent by   pid \(one.pid) ") && !earlier.stdout.contains("not the first"), "\(earlier.stdout)")
                AuditSandbox.loud("who --pid \(pid) (reused):\n\(who.stdout)")
            }
        }

        @Test("bash's kill builtin, then exec /bin/kill: the cached PROCTITLE is said to be recorded earlier")
        func staleCommandLine() throws {
            try withSandbox { sandbox, db, cli in
                let dir = sandbox.directory
                // The builtin's probe of itself is bash's first audited syscall: the kernel caches
                // its command line then, and keeps it across the exec.
                try "#!/bin/bash\nkill -0 $$\nexec /bin/kill -9 \"$1\"\n".write(toFile: dir + "/stale.sh", atomically: true, encoding: .utf8)
                let victim = try sandbox.startVictim()
                let r = try AuditSandbox.run("/bin/bash", [dir + "/stale.sh", "\(victim.processIdentifier)"])
                #expect(r.status == 0, "\(r.stderr)")
                victim.waitUntilExit()
                #expect(victim.terminationReason == .uncaughtSignal && victim.terminationStatus == SIGKILL)
                let line = try sandbox.waitForLine(containing: ["type=SYSCALL", "comm=\"kill\"", "key=\"\(sandbox.key)\""])
                let stamp = line.components(separatedBy: "msg=audit(").last?.components(separatedBy: ")").first ?? ""
                try sandbox.waitForLine(containing: ["type=PROCTITLE msg=audit(\(stamp))"])
                try ingest(sandbox, db)

                let who = cli.run(["who", "--db", db, "--pid", "\(victim.processIdentifier)"])
                #expect(who.status == 0, "\(who)")
                #expect(who.stdout.contains("(kill) /usr/bin/kill"), "\(who.stdout)")
                #expect(who.stdout.contains("command   not on record: the command line logged (/bin/bash \(dir)/stale.sh \(victim.processIdentifier)) was recorded earlier in the process's life, before it ran /usr/bin/kill"),
                        "\(who.stdout)\nrecords:\n\(sandbox.records(stamp: stamp).joined(separator: "\n"))")
                let json = cli.run(["who", "--db", db, "--pid", "\(victim.processIdentifier)", "--format", "json"])
                #expect(json.stdout.contains("\"sender_cmdline_recorded_earlier\":true"), "\(json.stdout)")
                AuditSandbox.loud("who --pid (exec /bin/kill after bash's builtin):\n\(who.stdout)")
            }
        }
    }
}
