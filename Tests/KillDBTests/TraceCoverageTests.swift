import Foundation
import GRDB
import KillDB
import Store
import Testing

/// Whether `who` says the tracer ran at a kill: judged at the kill's own time, with the
/// session's edges given their tolerance (a running tracer writes its session row only
/// every heartbeat; records are stamped from the boot clock).
@Suite("tracer coverage at a kill's own time")
struct TraceCoverageTests {
    /// A database with one audited kill at `killTime` and one trace session.
    static func database(in dir: URL, killTime: Double, session: (from: Double, to: Double, finished: Bool),
                         signals: String = "SIGKILL") throws -> URL {
        let db = dir.appendingPathComponent("k.sqlite")
        let log = dir.appendingPathComponent("audit.log")
        let stamp = String(format: "%.3f:501", killTime)
        try TestLogs.write(AuditLine.killEvent(stamp, target: 3625), to: log)
        _ = try TestLogs.ingest([log], db: db)
        let store = try SignalStore.openForWriting(path: db.path)
        let s = try store.transaction { tx in
            let s = try tx.beginTraceSession(version: "test", hostname: nil, signals: signals, bootID: "b-1",
                                             bootTime: session.from - 100)
            try tx.updateTraceSession(s, records: 0, lost: 0, finished: session.finished,
                                      status: session.finished ? "complete" : "running")
            return s
        }
        try DatabaseQueue(path: db.path).write { db in
            try db.execute(sql: "UPDATE trace_sessions SET started_at = ?, last_active_at = ?, finished_at = ? WHERE run_id = ?",
                           arguments: [session.from, session.to, session.finished ? session.to : nil, s.runID])
        }
        return db
    }

    static func who(_ db: URL) throws -> String {
        let r = try CLI.run(["who", "--pid", "3625", "--db", db.path])
        #expect(r.status == 0, "\(r)")
        return r.stdout
    }

    @Test("a kill between two heartbeats of a running tracer: it ran (the bug: 'did not run at that time')")
    func betweenHeartbeats() throws {
        try TestLogs.withScratch { dir in
            let t = 1_796_000_000.0
            let db = try Self.database(in: dir, killTime: t + 5, session: (t - 60, t, false))
            let out = try Self.who(db)
            #expect(out.contains("Kernel tracer: ran from"), "\(out)")
            #expect(!out.contains("did not run"), "\(out)")
        }
    }

    @Test("a kill a fraction of a second past a finished session's end (clock conversion): it ran")
    func atTheEdge() throws {
        try TestLogs.withScratch { dir in
            let t = 1_796_000_000.0
            let db = try Self.database(in: dir, killTime: t + 0.4, session: (t - 60, t, true))
            let out = try Self.who(db)
            #expect(out.contains("Kernel tracer: ran from"), "\(out)")
            #expect(!out.contains("did not run"), "\(out)")
        }
    }

    @Test("a kill well after the session ended, or before it began: it did not run then, at that time")
    func outside() throws {
        try TestLogs.withScratch { dir in
            let t = 1_796_000_000.0
            let db = try Self.database(in: dir, killTime: t + 30, session: (t - 60, t, true))
            let out = try Self.who(db)
            #expect(out.contains("Kernel tracer: did not run at "), "\(out)")
            #expect(!out.contains("Kernel tracer: ran"), "\(out)")
        }
        try TestLogs.withScratch { dir in
            let t = 1_796_000_000.0
            let db = try Self.database(in: dir, killTime: t - 120, session: (t - 60, t, true))
            #expect(try Self.who(db).contains("Kernel tracer: did not run at "))
        }
    }

    @Test("nothing found on a database the tracer never wrote to, no kernel log read: the answer says what only the tracer sees")
    func neverTraced() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(AuditLine.killEvent("1796000000.000:501", target: 3625), to: log)
            _ = try TestLogs.ingest([log], db: db)
            let r = try CLI.run(["who", "--pid", "3626", "--db", db.path])
            #expect(r.status == 1)
            #expect(r.stdout.contains("Kernel tracer: never ran on this database: kills no syscall makes (cgroup.kill, a pid-namespace teardown, RLIMIT_CPU, a parent's death) are on no record here (`killdb trace` records them)."),
                    "\(r.stdout)")
            // An answer that found the kill says nothing of it: audit saw this one.
            #expect(!(try Self.who(db)).contains("Kernel tracer"))
        }
    }

    @Test("a session that traced other signals ran, but did not trace this one")
    func otherSignals() throws {
        try TestLogs.withScratch { dir in
            let t = 1_796_000_000.0
            let db = try Self.database(in: dir, killTime: t - 5, session: (t - 60, t, true), signals: "SIGTERM")
            let out = try Self.who(db)
            #expect(out.contains("Kernel tracer: was not tracing SIGKILL at "), "\(out)")
        }
    }
}
