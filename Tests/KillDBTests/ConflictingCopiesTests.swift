import Foundation
import GRDB
import KillDB
import Store
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

    /// A copy as auditd hands it to the plugin: records ended by EOE.
    func streamed(_ records: String) -> String { records + "type=EOE msg=audit(\(Self.stamp)): \n" }

    @Test("arriving at the plugin: the first copy is kept, the conflict counted in its run row and status")
    func plugin() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let live = try PluginTests.Running(db: db, options: PluginTests.options())
            live.send(streamed(first()))
            try #require(PluginTests.eventually { PluginTests.count(db) == 1 })
            live.send(streamed(second()))
            let status = try live.finish()
            #expect(status.conflictingEvents == 1)
            try check(db, conflicts: 1)
            let run = try TestLogs.query(db, "SELECT kind, conflicting_events FROM ingest_runs").first
            #expect(run?["kind"] as String? == "plugin" && run?["conflicting_events"] as Int64? == 1)

            // The same copy again, in a later plugin session: already recorded, not counted again.
            let again = try PluginTests.Running(db: db, options: PluginTests.options())
            again.send(streamed(second()))
            #expect(try again.finish().conflictingEvents == 0)
            try check(db, conflicts: 1)
        }
    }

    @Test("merged: the target's copy is kept, the source's reported in the summary, the merge's run row and event_conflicts")
    func merge() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("a.log"), b = dir.appendingPathComponent("b.log")
            try TestLogs.write(first(), to: a)
            try TestLogs.write(second(), to: b)
            for f in [a, b] { try TestLogs.age(f) }
            let target = dir.appendingPathComponent("target.sqlite"), source = dir.appendingPathComponent("source.sqlite")
            _ = try TestLogs.ingest([a], db: target)
            _ = try TestLogs.ingest([b], db: source)
            let store = try SignalStore.openForWriting(path: target.path)
            let r = try store.merge(from: source.path)
            #expect(r.conflictingEvents == 1 && r.newEvents == 0 && r.newTargets == 0, "\(r)")
            // Kept whole: neither the source's sender nor its target is lent to the target's copy.
            try check(target, conflicts: 1)
            #expect(try TestLogs.query(target, "SELECT COUNT(*) AS n FROM targets").first?["n"] as Int64? == 1)
            let own = try TestLogs.query(target, "SELECT conflicting_events FROM ingest_runs WHERE kind = 'merge' AND files = 0")
            #expect(own.map { $0["conflicting_events"] as Int64 } == [1], "the merge's own run row counts it")

            // Merging again: nothing new, nothing counted twice, no further run row.
            let runs = try TestLogs.query(target, "SELECT COUNT(*) AS n FROM ingest_runs").first?["n"] as Int64?
            let again = try store.merge(from: source.path)
            #expect(again.conflictingEvents == 0)
            try check(target, conflicts: 1)
            #expect(try TestLogs.query(target, "SELECT COUNT(*) AS n FROM ingest_runs").first?["n"] as Int64? == runs)

            // The command says so.
            let other = dir.appendingPathComponent("other.sqlite")
            _ = try TestLogs.ingest([a], db: other)
            let text = try CLI.run(["merge", "--db", other.path, source.path])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("1 conflicting copy"), "\(text.stdout)")
            let plain = dir.appendingPathComponent("plain.sqlite")
            _ = try TestLogs.ingest([a], db: plain)
            let json = try CLI.run(["merge", "--db", dir.appendingPathComponent("third.sqlite").path, "--format", "json",
                                    plain.path, source.path])
            let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let sources = obj?["sources"] as? [[String: Any]] ?? []
            #expect(sources.map { $0["conflicting_copies"] as? Int } == [0, 1], "\(json.stdout)")
        }
    }

    @Test("merged: a source's own recorded conflicts come along, once")
    func mergeCarriesConflicts() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("audit.log.1"), b = dir.appendingPathComponent("audit.log")
            try TestLogs.write(first(), to: a)
            try TestLogs.write(second(), to: b)
            for f in [a, b] { try TestLogs.age(f) }
            let source = dir.appendingPathComponent("source.sqlite")
            _ = try TestLogs.ingest([a, b], db: source)
            let target = dir.appendingPathComponent("target.sqlite")
            let store = try SignalStore.openForWriting(path: target.path)
            let r = try store.merge(from: source.path)
            #expect(r.newEvents == 1 && r.conflictingEvents == 0, "\(r)")
            try check(target, conflicts: 1)
            _ = try store.merge(from: source.path)
            try check(target, conflicts: 1)
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
