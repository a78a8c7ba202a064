import Foundation
import GRDB
import KillDB
import Testing

/// Two copies of one event id that disagree are two stories: the first stored is kept
/// whole, the other is reported, and neither lends the other its sender or its targets.
@Suite("conflicting copies of one event id")
struct ConflictingCopiesTests {
    static let stamp = "1700006000.000:500"

    func first() -> String {
        AuditLine.killSyscall(Self.stamp, target: 8001, signal: 9, pid: 4242)
            + AuditLine.objPID(Self.stamp, pid: 8001, comm: "postgres")
    }

    func second() -> String {
        AuditLine.killSyscall(Self.stamp, target: 8002, signal: 15, pid: 6666)
            + AuditLine.objPID(Self.stamp, pid: 8002, comm: "nginx")
    }

    func check(_ db: URL, conflicts: Int) throws {
        let rows = try TestLogs.signals(db)
        #expect(rows.count == 1, "\(rows)")
        #expect(rows.first?["sender_pid"] as Int64? == 4242)
        #expect(rows.first?["signal"] as Int64? == 9)
        #expect(rows.first?["target_pid"] as Int64? == 8001)
        let kept = try TestLogs.query(db, "SELECT sender_pid, signal, target_pids FROM event_conflicts")
        #expect(kept.count == 1)
        #expect(kept.first?["sender_pid"] as Int64? == 6666 && kept.first?["target_pids"] as String? == "8002")
        let runs = try TestLogs.query(db, "SELECT SUM(conflicting_events) AS n FROM ingest_runs").first?["n"] as Int64?
        #expect(runs == Int64(conflicts))
    }

    @Test("in two files of one run: the first copy is kept, the second reported")
    func oneRun() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("audit.log.1"), b = dir.appendingPathComponent("audit.log")
            try TestLogs.write(first(), to: a)
            try TestLogs.write(second(), to: b)
            for f in [a, b] { try TestLogs.age(f) }
            let db = dir.appendingPathComponent("k.sqlite")
            let summary = try TestLogs.ingest([a, b], db: db)
            #expect(summary.conflictingEvents == 1)
            #expect(summary.totals.newEvents == 1)
            try check(db, conflicts: 1)
        }
    }

    @Test("in a later run: the stored copy is not changed, and the same copy again is not counted twice")
    func laterRuns() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("a.log"), b = dir.appendingPathComponent("b.log")
            let c = dir.appendingPathComponent("c.log")
            try TestLogs.write(first(), to: a)
            try TestLogs.write(second(), to: b)
            try TestLogs.write(second() + "\n", to: c)   // the same copy, under another file
            for f in [a, b, c] { try TestLogs.age(f) }
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([a], db: db)
            let s = try TestLogs.ingest([b], db: db)
            #expect(s.conflictingEvents == 1)
            #expect(IngestReportText.of(s).contains("event_conflicts"))
            let again = try TestLogs.ingest([c], db: db)
            #expect(again.conflictingEvents == 0)
            try check(db, conflicts: 1)
        }
    }

    @Test("an identical copy is no conflict")
    func identicalCopy() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("a.log"), b = dir.appendingPathComponent("b.log")
            try TestLogs.write(first(), to: a)
            try TestLogs.write(first() + "\n", to: b)
            for f in [a, b] { try TestLogs.age(f) }
            let db = dir.appendingPathComponent("k.sqlite")
            let s = try TestLogs.ingest([a, b], db: db)
            #expect(s.conflictingEvents == 0)
            #expect(try TestLogs.rowCount(db) == 1)
        }
    }
}

import Output
enum IngestReportText {
    static func of(_ s: IngestSummary) -> String { IngestReport.text(s, database: "k.sqlite", verbose: false) }
}
