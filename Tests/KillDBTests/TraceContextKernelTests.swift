import Foundation
import GRDB
import KillDB
import Testing
import Tracer
#if canImport(Glibc)
import Glibc
#endif

/// The tracer sends a sender's command line, executable and parents once per process image
/// (a context record) and a cgroup's path once per cgroup, and completes every later signal
/// from what it kept: these check, in the real kernel and through `who --pid`, that what it
/// kept is never given to a signal it does not belong to.
@Suite("the tracer's per-process context, on the real kernel", .serialized, .enabled(if: TraceSandbox.shouldRun))
struct TraceContextKernelTests {
    typealias T = TraceSandbox

    @Test("a process that execs between two kills: each kill shows the command line and executable it ran at that moment")
    func execBetweenKills() throws {
        try TracerKernelTests.requireTracer()
        try TestLogs.withScratch { dir in
            var victims: [Process] = []
            var shell: pid_t = 0
            defer { T.end(victims) }
            let db = try T.trace(in: dir) {
                let first = try T.start("/bin/sleep", ["1000"]), second = try T.start("/bin/sleep", ["1000"])
                victims = [first, second]
                let sh = try T.start("/bin/sh", ["-c", "kill -9 \(first.processIdentifier); exec /bin/kill -9 \(second.processIdentifier)"])
                shell = sh.processIdentifier
                sh.waitUntilExit()
                for v in victims { v.waitUntilExit() }
            }
            let (first, second) = (victims[0].processIdentifier, victims[1].processIdentifier)
            let before = try #require(try T.rows(db, where: "target_pid = ?", [first]).first)
            let after = try #require(try T.rows(db, where: "target_pid = ?", [second]).first)
            #expect(before["sender_pid"] as Int64? == Int64(shell) && after["sender_pid"] as Int64? == Int64(shell))
            #expect(before["sender_exe"] as String? == "/usr/bin/dash" || before["sender_exe"] as String? == "/usr/bin/bash", "\(before)")
            #expect(after["sender_exe"] as String? == "/usr/bin/kill", "the new image's, not the cached one: \(after)")
            #expect(before["sender_context_missing"] as Int64? == 0 && after["sender_context_missing"] as Int64? == 0)

            let whoBefore = try TracerKernelTests.who(first, db)
            #expect(whoBefore.contains("was sent SIGKILL by pid \(shell) (sh) through kill"), "\(whoBefore)")
            #expect(whoBefore.contains("/bin/sh -c kill -9 \(first)"), "the shell's command line: \(whoBefore)")
            let whoAfter = try TracerKernelTests.who(second, db)
            #expect(whoAfter.contains("was sent SIGKILL by pid \(shell) (kill) through kill"), "\(whoAfter)")
            #expect(whoAfter.contains("/bin/kill -9 \(second)"), "the command line after execve: \(whoAfter)")
            #expect(!whoAfter.contains("/bin/sh -c"), "never the image before execve: \(whoAfter)")
        }
    }

    @Test("a sender that moves to another cgroup between two kills: each kill names the cgroup it was sent from")
    func senderMovesCgroup() throws {
        try TracerKernelTests.requireTracer()
        try TestLogs.withScratch { dir in
            let mount = try TraceSandbox.mountCgroup2(in: dir)
            let top = "killdb-ctx-\(UInt32.random(in: 0...UInt32.max))"
            let a = "\(mount)/\(top)/killdb-first.service", b = "\(mount)/\(top)/killdb-second.service"
            var victims: [Process] = []
            var shell: pid_t = 0
            defer {
                T.end(victims)
                for c in [a, b, "\(mount)/\(top)"] { KernelOOMTests.removeCgroup(c) }
                umount2(mount, Int32(MNT_DETACH))
            }
            for c in [a, b] { try FileManager.default.createDirectory(atPath: c, withIntermediateDirectories: true) }
            let db = try T.trace(in: dir) {
                let first = try T.start("/bin/sleep", ["1000"]), second = try T.start("/bin/sleep", ["1000"])
                victims = [first, second]
                let script = "echo $$ > \(a)/cgroup.procs; kill -9 \(first.processIdentifier); "
                    + "echo $$ > \(b)/cgroup.procs; kill -9 \(second.processIdentifier); echo 0 > \(mount)/cgroup.procs"
                let sh = try T.start("/bin/sh", ["-c", script])
                shell = sh.processIdentifier
                sh.waitUntilExit()
                for v in victims { v.waitUntilExit() }
            }
            let (first, second) = (victims[0].processIdentifier, victims[1].processIdentifier)
            let context = try DatabaseQueue(path: db.path).read {
                try Row.fetchAll($0, sql: "SELECT * FROM traced_signal_context WHERE target_pid IN (?, ?) ORDER BY record_rowid",
                                 arguments: [first, second])
            }
            try #require(context.count == 2, "\(context)")
            #expect(context[0]["sender_pid"] as Int64? == Int64(shell) && context[1]["sender_pid"] as Int64? == Int64(shell))
            #expect(context[0]["sender_cgroup"] as String? == "/\(top)/killdb-first.service", "\(context[0])")
            #expect(context[1]["sender_cgroup"] as String? == "/\(top)/killdb-second.service", "the cgroup at this kill: \(context[1])")
            let rows = try T.rows(db, where: "target_pid IN (?, ?)", [first, second])
            #expect(rows.count == 2 && rows[0]["sender_cgroup_id"] as Int64? != rows[1]["sender_cgroup_id"] as Int64?, "\(rows)")
            func senderIn(_ who: String) -> String {
                who.split(separator: "\n").first { $0.contains("sender in ") }.map(String.init) ?? ""
            }
            let whoFirst = try TracerKernelTests.who(first, db)
            #expect(senderIn(whoFirst).hasSuffix("sender in killdb-first.service"), "\(whoFirst)")
            let whoSecond = try TracerKernelTests.who(second, db)
            #expect(whoSecond.contains("was sent SIGKILL by pid \(shell) (sh) through kill"), "\(whoSecond)")
            // The record's own cgroup is right (above); `who` names the place of the sender's
            // process row, which keeps the first place the process was seen in (migration 011).
            withKnownIssue("who names a process's first place, not its place at this kill") {
                #expect(senderIn(whoSecond).hasSuffix("sender in killdb-second.service"), "\(whoSecond)")
            }
        }
    }

    @Test("a thread of a process already seen: its own tid and name, the process's command line, sent once")
    func threadOfSeenProcess() throws {
        try TracerKernelTests.requireTracer()
        try TestLogs.withScratch { dir in
            let source = dir.appendingPathComponent("ctx-threads.c")
            try TestLogs.write("""
                #include <pthread.h>
                #include <signal.h>
                #include <stdio.h>
                #include <stdlib.h>
                #include <sys/prctl.h>
                #include <sys/syscall.h>
                #include <unistd.h>
                static pid_t second;
                static void *worker(void *arg) {
                    prctl(PR_SET_NAME, "kdb-second");
                    printf("%ld\\n", (long)syscall(SYS_gettid));
                    fflush(stdout);
                    kill(second, SIGKILL);
                    return arg;
                }
                int main(int argc, char **argv) {
                    pthread_t t;
                    if (argc != 3) return 2;
                    second = atoi(argv[2]);
                    kill(atoi(argv[1]), SIGKILL);
                    usleep(100000);
                    pthread_create(&t, 0, worker, 0);
                    pthread_join(t, 0);
                    return 0;
                }
                """, to: source)
            let binary = dir.appendingPathComponent("ctx-threads").path
            let cc = try #require(AuditSandbox.findTool("cc"))
            let built = try T.run(cc, ["-O0", "-pthread", "-o", binary, source.path])
            try #require(built.status == 0, "\(built.output)")
            var victims: [Process] = []
            var output = ""
            defer { T.end(victims) }
            let db = try T.trace(in: dir) {
                let first = try T.start("/bin/sleep", ["1000"]), second = try T.start("/bin/sleep", ["1000"])
                victims = [first, second]
                output = try T.run(binary, [String(first.processIdentifier), String(second.processIdentifier)]).output
                for v in victims { v.waitUntilExit() }
            }
            let (first, second) = (victims[0].processIdentifier, victims[1].processIdentifier)
            let tid = try #require(Int64(output.trimmingCharacters(in: .whitespacesAndNewlines)), "\(output)")
            let main = try #require(try T.rows(db, where: "target_pid = ?", [first]).first)
            let thread = try #require(try T.rows(db, where: "target_pid = ?", [second]).first)
            let pid = try #require(main["sender_pid"] as Int64?)
            #expect(thread["sender_pid"] as Int64? == pid, "the same process")
            #expect(main["sender_tid"] as Int64? == pid && thread["sender_tid"] as Int64? == tid && tid != pid)
            #expect(main["sender_comm"] as String? == "ctx-threads" && thread["sender_comm"] as String? == "kdb-second", "\(thread)")
            for r in [main, thread] {
                #expect(r["sender_exe"] as String? == binary, "\(r)")
                #expect(r["sender_cmdline"] as String? == "\(binary) \(first) \(second)", "\(r)")
                #expect(r["sender_context_missing"] as Int64? == 0)
            }
            let who = try TracerKernelTests.who(second, db)
            #expect(who.contains("was sent SIGKILL by pid \(pid) (kdb-second) through kill"), "\(who)")
            #expect(who.contains("\(binary) \(first) \(second)"), "the process's command line, kept from its first kill: \(who)")
        }
    }
}
