import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `killdb trace --audit` on the real kernel, under a private auditd: its records reach the
/// audit log as USER messages, and a collector's database that never ran a tracer learns
/// the kill from that log alone; a message forged with `auditctl -m` is not believed.
@Suite("killdb trace --audit, on the real kernel", .serialized, .enabled(if: TraceSandbox.shouldRun && AuditSandbox.shouldRun))
struct TraceAuditKernelTests {
    @Test("trace --audit under a private auditd; ingest of that log into a fresh database: who --pid shows the tracer's record; a forged message is unverified")
    func forwardedThroughAudit() throws {
        if let p = TraceSandbox.availability.problems.first { throw TraceSandbox.Failure("BPF unavailable: \(p.reason)") }
        let sandbox = try AuditSandbox()
        defer { sandbox.stop() }
        try sandbox.start()
        try TestLogs.withScratch { dir in
            // The tracer is the killdb binary itself: libaudit names its writer by /proc/self/exe.
            let tracerDB = dir.appendingPathComponent("host.sqlite")
            let tracer = Process()
            tracer.executableURL = URL(fileURLWithPath: CLI.binary)
            tracer.arguments = ["trace", "--audit", "--db", tracerDB.path]
            let err = Pipe()
            tracer.standardError = err
            tracer.standardOutput = FileHandle.nullDevice
            try tracer.run()
            defer { if tracer.isRunning { kill(tracer.processIdentifier, SIGKILL); tracer.waitUntilExit() } }
            // Attached once it says so.
            let errors = err.fileHandleForReading
            var said = Data()
            let deadline = Date().addingTimeInterval(20)
            while !String(decoding: said, as: UTF8.self).contains("tracing ") {
                let chunk = errors.availableData
                if chunk.isEmpty || Date() > deadline { throw TraceSandbox.Failure("killdb trace did not start: \(String(decoding: said, as: UTF8.self))") }
                said += chunk
            }
            try sandbox.waitForLine(containing: ["type=USER ", "op=killdb-trace-session", "state=start"])
            // The kernel's own record of the writer, its exe in the kernel's words.
            let anchor = try sandbox.waitForLine(containing: ["type=SECCOMP ", "pid=\(tracer.processIdentifier) ", "code=0x7ffc0000"])
            #expect(anchor.contains("exe=\"\(URL(fileURLWithPath: CLI.binary).resolvingSymlinksInPath().path)\""), "\(anchor)")

            let victim = try sandbox.startVictim()
            let pid = Int64(victim.processIdentifier)
            let sent = try sandbox.send(.b64, "kill", signal: SIGKILL, pid: pid)
            #expect(sent.result == 0, "\(sent)")
            victim.waitUntilExit()
            _ = try sandbox.waitForEvent(senderPID: sent.pid)
            try sandbox.waitForLine(containing: ["type=USER ", "op=killdb-trace-signal", "tpid=\(pid) "])

            // A forgery of the same kind of message from another program, as root.
            let forged = "op=killdb-trace-signal ver=1 boot=00 bt=0 sstart=0 signals=00 ns=1 t=1 sig=9 tpid=\(pid + 1)"
            let m = try AuditSandbox.run(AuditSandbox.availability.auditctl, ["-m", forged])
            #expect(m.status == 0, "\(m)")
            try sandbox.waitForLine(containing: ["type=USER ", "tpid=\(pid + 1)"])
            // A root program that builds its own message text claims libaudit's exe=killdb.
            let source = dir.appendingPathComponent("claim.c")
            try TestLogs.write("""
                #include <libaudit.h>
                #include <string.h>
                int main(int argc, char **argv) {
                    int fd = audit_open();
                    return fd < 0 || audit_send(fd, AUDIT_USER, argv[1], strlen(argv[1]) + 1) <= 0;
                }
                """, to: source)
            let claim = dir.appendingPathComponent("claim").path
            let built = try AuditSandbox.run(try #require(AuditSandbox.findTool("cc")), ["-o", claim, source.path, "-laudit"])
            try #require(built.status == 0, "\(built)")
            let claimed = forged.replacingOccurrences(of: "tpid=\(pid + 1)", with: "tpid=\(pid + 2)")
                + " exe=\"/usr/local/bin/killdb\" hostname=? addr=? terminal=? res=success"
            #expect(try AuditSandbox.run(claim, [claimed]).status == 0)
            try sandbox.waitForLine(containing: ["type=USER ", "tpid=\(pid + 2)"])

            kill(tracer.processIdentifier, SIGTERM)
            tracer.waitUntilExit()
            #expect(tracer.terminationStatus == 0)
            try sandbox.waitForLine(containing: ["type=USER ", "op=killdb-trace-session", "state=stop"])

            // The collector: a fresh database, no tracer ever ran on it.
            let collector = dir.appendingPathComponent("collector.sqlite")
            let summary = try Ingest.run(paths: [sandbox.logDirectory], databasePath: collector.path)
            #expect(summary.newTracedSignals >= 1, "\(summary)")
            #expect(summary.unverifiedTraceMessages == 2, "the auditctl -m forgery and the claim of exe=killdb: \(summary)")
            let traced = try TestLogs.query(collector, "SELECT * FROM traced_signals WHERE target_pid = ?", arguments: [pid])
            #expect(traced.count == 1, "\(traced)")
            #expect(traced.first?["sender_pid"] as Int64? == Int64(sent.pid) && traced.first?["syscall"] as String? == "kill")
            #expect(try TestLogs.query(collector, "SELECT * FROM traced_signals WHERE target_pid = ?", arguments: [pid + 1]).isEmpty)
            let kept = try TestLogs.query(collector, "SELECT CAST(s.value AS TEXT) AS exe, reason FROM unverified_trace_messages u JOIN strings s ON s.id = u.writer_exe_id ORDER BY serial")
            #expect(kept.first?["exe"] as String? == AuditSandbox.availability.auditctl, "\(kept)")
            #expect(kept.last?["exe"] as String? == "/usr/local/bin/killdb" && (kept.last?["reason"] as String?)?.contains("no record of the kernel") == true,
                    "libaudit's exe= claimed, no anchor of the kernel's: \(kept)")
            #expect(try TestLogs.query(collector, "SELECT * FROM traced_signals WHERE target_pid = ?", arguments: [pid + 2]).isEmpty)
            let writers = try TestLogs.query(collector, "SELECT pid FROM trace_writers")
            #expect(writers.map { $0["pid"] as Int64 } == [Int64(tracer.processIdentifier)], "\(writers)")
            let sessions = try TestLogs.query(collector, "SELECT * FROM trace_coverage")
            #expect(sessions.count == 1 && sessions.first?["status"] as String? == "complete", "\(sessions)")

            let who = try CLI.run(["who", "--pid", String(pid), "--db", collector.path])
            #expect(who.status == 0, "\(who)")
            #expect(who.stdout.contains("sent by   pid \(sent.pid)"), "\(who.stdout)")
            #expect(who.stdout.contains("audit event ") && who.stdout.contains("and the kernel tracer's record (signal:signal_generate)"),
                    "both evidences, from the audit log alone: \(who.stdout)")
            #expect(who.stdout.contains("Kernel tracer: ran from"), "\(who.stdout)")
        }
    }
}
