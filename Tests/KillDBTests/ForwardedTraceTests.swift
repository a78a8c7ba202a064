import Foundation
import GRDB
import KernelTrace
import KillDB
import Pipeline
import Testing

/// `killdb trace --audit`'s messages read back by `killdb ingest` on a collector: stored as
/// traced signals only when the kernel attributes them to root and libaudit names killdb as
/// their writer; a forgery is counted and kept apart, never evidence.
@Suite("the tracer's records forwarded through audit")
struct ForwardedTraceTests {
    static let origin = TraceOrigin(bootID: "3c1f-boot", bootTime: 1_795_990_000, startedAt: 1_796_000_000.25, signals: "SIGKILL")

    /// A USER record as auditd logs one that libaudit's audit_log_user_message sent.
    static func user(_ serial: Int, _ text: String, uid: Int = 0, exe: String = "\"/usr/local/bin/killdb\"",
                     time: Double = 1_796_000_010, node: String? = "web-1") -> String {
        let prefix = node.map { "node=\($0) " } ?? ""
        return "\(prefix)type=USER msg=audit(\(String(format: "%.3f", time)):\(serial)): pid=4321 uid=\(uid) auid=4294967295 ses=4294967295 subj=unconfined msg='\(text) exe=\(exe) hostname=web-1 addr=? terminal=? res=success'\n"
    }

    /// The kernel's SECCOMP record of killdb's anchor (a SECCOMP_RET_LOG verdict on getppid),
    /// as the kernel logs it: the writer's pid, uid and exe, in the kernel's words.
    static func anchor(_ serial: Int, time: Double, pid: Int = 4321, uid: Int = 0, exe: String = "\"/usr/local/bin/killdb\"",
                       code: String = "0x7ffc0000", node: String? = "web-1") -> String {
        let prefix = node.map { "node=\($0) " } ?? ""
        return "\(prefix)type=SECCOMP msg=audit(\(String(format: "%.3f", time)):\(serial)): auid=4294967295 uid=\(uid) gid=0 ses=4294967295 subj=unconfined pid=\(pid) comm=\"killdb\" exe=\(exe) sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f22383e4829 code=\(code)\n"
    }

    static var cgroupKill: TracedSignal {
        var s = TraceMergeTests.record(0)
        s.time = 1_796_000_005.5
        return s
    }

    static func log(extra: String = "") -> String {
        anchor(899, time: 1_796_000_000.3) + user(900, TraceAuditFormat.text(.session(origin, state: .start, version: "1.0", hostname: "web-1", records: 0, lost: 0, time: 1_796_000_000.3)), time: 1_796_000_000.3)
            + user(901, TraceAuditFormat.text(.signal(cgroupKill, origin)), time: 1_796_000_005.6)
            + extra
            + user(905, TraceAuditFormat.text(.session(origin, state: .stop, version: "1.0", hostname: "web-1", records: 1, lost: 0, time: 1_796_000_020)), time: 1_796_000_020)
    }

    @Test("the message text reads back as what was written")
    func roundTrip() throws {
        for m in [TraceAuditMessage.signal(Self.cgroupKill, Self.origin), .signal(TraceMergeTests.record(1), Self.origin),
                  .loss(TraceLoss(from: 1, to: 2, count: 7), Self.origin),
                  .session(Self.origin, state: .alive, version: "1.0", hostname: "h", records: 3, lost: 1, time: 5)] {
            var back = try TraceAuditFormat.read(Array(TraceAuditFormat.text(m).utf8))
            // Times are written to the microsecond.
            if case .signal(var s, let o) = back, case .signal(let w, _) = m { s.time = w.time; back = .signal(s, o) }
            #expect(back == m)
        }
        #expect(!TraceAuditFormat.text(.signal(Self.cgroupKill, Self.origin)).contains("'"))
    }

    @Test("a collector's ingest stores the forwarded record; who --pid shows it, with the tracer's coverage")
    func ingested() throws {
        try TestLogs.withScratch { dir in
            let logDir = dir.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
            let log = logDir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.log(), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("collector.sqlite")
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.newTracedSignals == 1 && summary.unverifiedTraceMessages == 0, "\(summary)")
            let rows = try TestLogs.query(db, "SELECT * FROM traced_signals")
            #expect(rows.count == 1)
            #expect(rows.first?["node"] as String? == "web-1" && rows.first?["cause"] as String? == "cgroup-kill")
            let coverage = try TestLogs.query(db, "SELECT * FROM trace_coverage")
            #expect(coverage.count == 1 && coverage.first?["status"] as String? == "complete" && coverage.first?["node"] as String? == "web-1",
                    "\(coverage)")
            let who = try CLI.run(["who", "--pid", "3600", "--db", db.path])
            #expect(who.status == 0, "\(who)")
            #expect(who.stdout.contains("cgroup.kill of /app/worker by pid 3720 (sh)"), "\(who.stdout)")
            #expect(who.stdout.contains("Kernel tracer: ran from"), "\(who.stdout)")

            // Read again (a second collector database from the same log): the same, once.
            let again = try TestLogs.ingest([log], db: db)
            #expect(again.newTracedSignals == 0)
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM traced_signal_records").first?["n"] as Int? == 1)
        }
    }

    @Test("forgeries: another uid, another program (auditctl -m, a program of its own), a damaged message: counted, kept apart, never evidence")
    func forged() throws {
        var victim = TraceMergeTests.record(3)
        victim.time = 1_796_000_006
        let forged = TraceAuditFormat.text(.signal(victim, Self.origin))
        let extra = Self.user(902, forged, uid: 1000)
            + Self.user(903, "text=" + forged, exe: "\"/usr/sbin/auditctl\"")
            + Self.user(904, forged, exe: AuditLine.hex(Array("/tmp/forger killdb".utf8)))
            + Self.user(906, "op=killdb-trace-signal ver=1 boot=zz")
        try TestLogs.withScratch { dir in
            let logDir = dir.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
            let log = logDir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.log(extra: extra), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("collector.sqlite")
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.unverifiedTraceMessages == 4 && summary.newTracedSignals == 1, "\(summary)")
            #expect(try TestLogs.query(db, "SELECT * FROM kernel_kills").isEmpty, "an anchor is no kill")
            #expect(try TestLogs.query(db, "SELECT * FROM traced_signals WHERE target_pid = 3603").isEmpty)
            let kept = try TestLogs.query(db, "SELECT serial, writer_uid, CAST(e.value AS TEXT) AS exe, reason FROM unverified_trace_messages u LEFT JOIN strings e ON e.id = u.writer_exe_id ORDER BY serial")
            #expect(kept.map { $0["serial"] as Int } == [902, 903, 904, 906])
            #expect((kept[0]["reason"] as String).contains("uid 1000"))
            #expect(kept[1]["exe"] as String? == "/usr/sbin/auditctl")
            #expect(kept[2]["exe"] as String? == "/tmp/forger killdb")
            #expect((kept[3]["reason"] as String).contains("malformed"), "\(kept[3])")
            let who = try CLI.run(["who", "--pid", "3603", "--db", db.path])
            #expect(!who.stdout.contains("cgroup.kill"), "\(who.stdout)")
            let text = try CLI.run(["ingest", "--db", dir.appendingPathComponent("other.sqlite").path, log.path])
            #expect(text.stdout.contains("4 audit messages that read like the tracer's but were not written by root running killdb were not used as evidence"), "\(text)")
        }
    }

    @Test("libaudit's exe= is the writer's claim: a message needs the kernel's own SECCOMP record of a killdb process with its pid, near then")
    func kernelAnchor() throws {
        var victim = TraceMergeTests.record(3)
        victim.time = 1_796_000_006
        let text = TraceAuditFormat.text(.signal(victim, Self.origin))
        // A root program that builds its own netlink message claims exe=killdb, from pid 5555.
        func claim(_ serial: Int, pid: Int, time: Double) -> String {
            Self.user(serial, text, time: time).replacingOccurrences(of: "pid=4321", with: "pid=\(pid)")
        }
        let extra = claim(902, pid: 5555, time: 1_796_000_006)
            // Its own anchor names its own executable, not killdb.
            + Self.anchor(903, time: 1_796_000_007, pid: 5556, exe: "\"/usr/bin/python3\"")
            + claim(904, pid: 5556, time: 1_796_000_007)
            // A verdict that is not SECCOMP_RET_LOG, or of another uid, vouches for nothing.
            + Self.anchor(906, time: 1_796_000_008, pid: 5557, code: "0x80000000")
            + claim(907, pid: 5557, time: 1_796_000_008)
            + Self.anchor(908, time: 1_796_000_008, pid: 5558, uid: 1000)
            + claim(909, pid: 5558, time: 1_796_000_008)
        try TestLogs.withScratch { dir in
            let logDir = dir.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
            let log = logDir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.log(extra: extra), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("collector.sqlite")
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.newTracedSignals == 1 && summary.unverifiedTraceMessages == 4, "\(summary)")
            let kept = try TestLogs.query(db, "SELECT serial, writer_pid, reason FROM unverified_trace_messages ORDER BY serial")
            #expect(kept.map { $0["serial"] as Int } == [902, 904, 907, 909])
            #expect(kept.allSatisfy { ($0["reason"] as String).contains("no record of the kernel names pid") }, "\(kept)")
            let writers = try TestLogs.query(db, "SELECT pid, first_time, last_time, CAST(e.value AS TEXT) AS exe FROM trace_writers w JOIN strings e ON e.id = w.exe_id")
            #expect(writers.count == 1 && writers.first?["pid"] as Int? == 4321 && writers.first?["exe"] as String? == "/usr/local/bin/killdb", "\(writers)")

            // A later log, read by a later ingest: the anchor stored vouches within its window
            // (60 s past the last), and not past it: the pid may be another process by then.
            var later = TraceMergeTests.record(4)
            later.time = 1_796_000_030
            var late = TraceMergeTests.record(5)
            late.time = 1_796_000_200
            let second = dir.appendingPathComponent("log2")
            try FileManager.default.createDirectory(at: second, withIntermediateDirectories: true)
            let log2 = second.appendingPathComponent("audit.log")
            try TestLogs.write(Self.user(920, TraceAuditFormat.text(.signal(later, Self.origin)), time: 1_796_000_030)
                               + Self.user(921, TraceAuditFormat.text(.signal(late, Self.origin)), time: 1_796_000_200), to: log2)
            try TestLogs.age(log2)
            let next = try TestLogs.ingest([log2], db: db)
            #expect(next.newTracedSignals == 1 && next.unverifiedTraceMessages == 1, "\(next)")
            #expect(try TestLogs.query(db, "SELECT serial FROM unverified_trace_messages WHERE serial >= 920").map { $0["serial"] as Int } == [921])
        }
    }

    @Test("report: the audit event and the tracer's record of one kill are one kill, the traced record joined to the event")
    func reportJoins() throws {
        var traced = TraceMergeTests.record(1)  // kill(2) of pid 3601 by pid 3720
        traced.time = 1_796_000_001.2
        let audit = SenderChainTests.killEvent(sender: 3720, ppid: 1, target: 3601, time: 1_796_000_001.2, serial: 950)
            .split(separator: "\n").map { "node=web-1 " + $0 + "\n" }.joined()
        try TestLogs.withScratch { dir in
            let logDir = dir.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
            let log = logDir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.log(extra: audit + Self.user(903, TraceAuditFormat.text(.signal(traced, Self.origin)), time: 1_796_000_001.3)), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("collector.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let r = try CLI.run(["report", "--pid", "3601", "--before", "2026-12-01 12:00", "--window", "30d", "--utc", "--db", db.path,
                                 "--format", "json"])
            #expect(r.status == 0, "\(r)")
            let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
            let kills = o["traced_kills"] as? [[String: Any]] ?? []
            #expect(kills.count == 1 && (kills.first?["joined_to"] as? String)?.hasPrefix("audit event 1796000001.200:950") == true, "\(kills)")
            let text = try CLI.run(["report", "--pid", "3601", "--before", "2026-12-01 12:00", "--window", "30d", "--utc", "--db", db.path])
            #expect(text.stdout.contains("and the kernel tracer's record (signal:signal_generate)"), "\(text.stdout)")
        }
    }
}
