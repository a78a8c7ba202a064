import Foundation
import GRDB
import KernelLog
import KillDB
import Store
import Testing

/// `killdb merge` on databases built from fixture logs: the merge of parts equals the
/// ingest of the whole, merging again adds nothing, and coverage comes along marked.
@Suite("merge: databases combined without duplicates")
struct MergeTests {
    /// An aggregated log, as a collector writes it: two hosts interleaved, each with its own
    /// serial sequence, auditd records, and one hole in host-c's sequence (serial 505 lost).
    static func fleetLog() -> (whole: String, first: String, second: String) {
        var events: [String] = []
        events.append("node=host-b type=DAEMON_START msg=audit(1700000000.000:9000): op=start ver=3.0.9 format=raw kernel=6.1.0 auid=4294967295 pid=1 uid=0 ses=4294967295 res=success\n")
        var serial = (b: 100, c: 500)
        for i in 0..<12 {
            let sec = 1_700_000_010 + i * 3
            let node = i % 2 == 0 ? "host-b" : "host-c"
            var n: Int
            if node == "host-b" { serial.b += 1; n = serial.b } else { serial.c += 1; n = serial.c }
            if n == 505 { serial.c += 1; n = serial.c }
            let stamp = "\(sec).\(100 + i):\(n)"
            let target = 7000 + i
            events.append(AuditLine.killSyscall(stamp, target: Int64(target), signal: 9, pid: 4000 + i, node: node)
                + AuditLine.objPID(stamp, pid: target, comm: "victim\(i)", node: node)
                + AuditLine.proctitle(stamp, argv: ["kill", "-9", "\(target)"], node: node))
        }
        let whole = events.joined()
        let cut = 1 + (events.count - 1) / 2  // the DAEMON_START and six kills
        return (whole, events[..<cut].joined(), events[cut...].joined())
    }

    /// Writes `text` as an audit.log nobody has written to for an hour (so ingest treats its
    /// last events as complete) and ingests it into a new database.
    @discardableResult
    static func database(_ dir: URL, _ name: String, log text: String) throws -> URL {
        let logDir = dir.appendingPathComponent("\(name)-log")
        try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
        let log = logDir.appendingPathComponent("audit.log")
        try TestLogs.write(text, to: log)
        try TestLogs.age(log)
        let db = dir.appendingPathComponent("\(name).sqlite")
        _ = try TestLogs.ingest([logDir.path], db: db)
        return db
    }

    static func merge(_ sources: [URL], into target: URL) throws -> [MergeResult] {
        let store = try SignalStore.openForWriting(path: target.path)
        return try sources.map { try store.merge(from: $0.path) }
    }

    static func count(_ db: URL, _ sql: String) throws -> Int {
        try TestLogs.query(db, sql).first?[0] ?? -1
    }

    static func lostEvents(_ db: URL) throws -> [String] {
        try TestLogs.query(db, "SELECT node, after_serial, before_serial, missing FROM lost_events ORDER BY 1, 2")
            .map { "\($0["node"] as String? ?? "-") \($0["after_serial"] as Int64? ?? 0)-\($0["before_serial"] as Int64? ?? 0): \($0["missing"] as Int64? ?? 0)" }
    }

    @Test("two halves merged equal the whole ingested once; merging again adds nothing")
    func halvesEqualWhole() throws {
        try TestLogs.withScratch { dir in
            let log = Self.fleetLog()
            let whole = try Self.database(dir, "whole", log: log.whole)
            let a = try Self.database(dir, "a", log: log.first)
            let b = try Self.database(dir, "b", log: log.second)
            let target = dir.appendingPathComponent("merged.sqlite")

            let first = try Self.merge([a, b], into: target)
            #expect(first.map(\.newEvents) == [6, 6])
            #expect(first.map(\.newTargets) == [6, 6])
            #expect(try TestLogs.snapshot(target) == TestLogs.snapshot(whole))
            #expect(try Self.lostEvents(whole) == ["host-c 504-506: 1"])
            #expect(try Self.lostEvents(target) == Self.lostEvents(whole))
            #expect(try Self.count(target, "SELECT COUNT(*) FROM daemon_events") == 1)
            let byNode = try TestLogs.query(target, "SELECT node, COUNT(*) AS n FROM signals GROUP BY node ORDER BY node")
                .map { "\($0["node"] as String? ?? "-")=\($0["n"] as Int? ?? 0)" }
            #expect(byNode == ["host-b=6", "host-c=6"])

            // Coverage: each source's run and file read, marked with where it came from.
            let paths = try TestLogs.query(target, "SELECT path FROM coverage ORDER BY run_id").compactMap { $0["path"] as String? }
            #expect(paths == [SignalStore.mergedPathPrefix(source: a.path) + dir.appendingPathComponent("a-log/audit.log").path,
                              SignalStore.mergedPathPrefix(source: b.path) + dir.appendingPathComponent("b-log/audit.log").path])
            #expect(try Self.count(target, "SELECT COUNT(*) FROM node_spans") == Self.count(a, "SELECT COUNT(*) FROM node_spans")
                    + Self.count(b, "SELECT COUNT(*) FROM node_spans"))
            let span = try TestLogs.query(target, """
                SELECT MIN(first_event_time) AS first, MAX(last_event_time) AS last FROM file_reads
                """).first
            let wholeSpan = try TestLogs.query(whole, """
                SELECT MIN(first_event_time) AS first, MAX(last_event_time) AS last FROM file_reads
                """).first
            #expect(span?["first"] as Double? == wholeSpan?["first"] as Double?)
            #expect(span?["last"] as Double? == wholeSpan?["last"] as Double?)

            let tables = ["events", "targets", "strings", "daemon_events", "serial_gaps", "ingest_runs", "file_reads", "node_spans"]
            let before = try tables.map { try Self.count(target, "SELECT COUNT(*) FROM \($0)") }
            let again = try Self.merge([a, b, a], into: target)
            for r in again {
                #expect(r.newEvents == 0 && r.newTargets == 0 && r.newStrings == 0 && r.newDaemonRecords == 0
                        && r.newSerialGaps == 0 && r.copiedRuns == 0 && r.copiedFileReads == 0 && r.completedEvents == 0,
                        "\(r)")
            }
            #expect(try tables.map { try Self.count(target, "SELECT COUNT(*) FROM \($0)") } == before)
        }
    }

    @Test("overlapping sources: an event held by both is stored once, its records united")
    func overlap() throws {
        try TestLogs.withScratch { dir in
            let stamp = "1700000100.500:42"
            let syscall = AuditLine.killSyscall(stamp, target: -300, signal: 9, node: "web-01")
            // a saw the event without its command line and with one target; b saw all of it.
            let a = try Self.database(dir, "a", log: syscall + AuditLine.objPID(stamp, pid: 301, node: "web-01")
                + AuditLine.killSyscall("1700000101.000:43", target: 555, signal: 9, node: "web-01")
                + AuditLine.objPID("1700000101.000:43", pid: 555, node: "web-01"))
            let b = try Self.database(dir, "b", log: syscall + AuditLine.objPID(stamp, pid: 301, node: "web-01")
                + AuditLine.objPID(stamp, pid: 302, node: "web-01")
                + AuditLine.proctitle(stamp, argv: ["kill", "-9", "--", "-300"], node: "web-01"))
            let target = dir.appendingPathComponent("t.sqlite")
            let results = try Self.merge([a, b], into: target)
            #expect(results[0].newEvents == 2)
            #expect(results[1].newEvents == 0 && results[1].sourceEvents == 1)
            #expect(results[1].newTargets == 1 && results[1].completedEvents == 1)
            let rows = try TestLogs.signals(target, where: "event_id = '1700000100.500:42'")
            #expect(rows.compactMap { $0["target_pid"] as Int64? } == [301, 302])
            #expect(rows.allSatisfy { $0["sender_cmdline"] as String? == "kill -9 -- -300" && $0["node"] as String? == "web-01" })
            #expect(try TestLogs.eventCount(target) == 2)
        }
    }

    @Test("strings are re-interned: sources with different string ids read back the same text")
    func reinterned() throws {
        try TestLogs.withScratch { dir in
            // Ingested in different orders, the two databases number their strings differently.
            let a = dir.appendingPathComponent("a.sqlite"), b = dir.appendingPathComponent("b.sqlite")
            _ = try TestLogs.ingest([TestLogs.fixture("enriched.log"), TestLogs.fixture("hostile-comm.log")], db: a)
            _ = try TestLogs.ingest([TestLogs.fixture("kill-process-group.log"), TestLogs.fixture("aarch64-kill.log"),
                                     TestLogs.fixture("three-kills.log")], db: b)
            let target = dir.appendingPathComponent("t.sqlite")
            _ = try TestLogs.ingest([TestLogs.fixture("node-prefixed.log")], db: target)
            try Self.merge([a, b], into: target)
            let expected = dir.appendingPathComponent("all.sqlite")
            _ = try TestLogs.ingest(["node-prefixed.log", "enriched.log", "hostile-comm.log", "kill-process-group.log",
                                     "aarch64-kill.log", "three-kills.log"].map(TestLogs.fixture), db: expected)
            #expect(try TestLogs.snapshot(target) == TestLogs.snapshot(expected))
        }
    }

    @Test("a copied run that was still running is refreshed when the source finishes it, not copied twice")
    func refreshedRun() throws {
        try TestLogs.withScratch { dir in
            let a = try Self.database(dir, "a", log: Self.fleetLog().whole)
            let raw = try DatabaseQueue(path: a.path)
            let finished = try raw.read { try Row.fetchOne($0, sql: "SELECT * FROM ingest_runs")! }
            try raw.write { try $0.execute(sql: "UPDATE ingest_runs SET status = 'running', finished_at = NULL, new_events = 5") }
            let target = dir.appendingPathComponent("t.sqlite")
            try Self.merge([a], into: target)
            #expect(try TestLogs.query(target, "SELECT status FROM ingest_runs").map { $0["status"] as String? } == ["running"])
            try raw.write {
                try $0.execute(sql: "UPDATE ingest_runs SET status = ?, finished_at = ?, new_events = ?",
                               arguments: [finished["status"], finished["finished_at"], finished["new_events"]])
            }
            let again = try Self.merge([a], into: target)
            #expect(again[0].copiedRuns == 1 && again[0].newEvents == 0)
            let runs = try TestLogs.query(target, "SELECT status, new_events FROM ingest_runs")
            #expect(runs.map { $0["status"] as String? } == ["complete"])
            #expect(runs.first?["new_events"] as Int? == finished["new_events"] as Int?)
            #expect(try Self.count(target, "SELECT COUNT(*) FROM file_reads") == 1)
        }
    }

    @Test("merged back into its source, a database's own runs stay its own")
    func roundTrip() throws {
        try TestLogs.withScratch { dir in
            let log = Self.fleetLog()
            let a = try Self.database(dir, "a", log: log.first)
            let b = try Self.database(dir, "b", log: log.second)
            try Self.merge([a], into: b)
            let back = try Self.merge([b], into: a)
            #expect(back[0].newEvents == 6 && back[0].copiedRuns == 1, "only b's own run comes back: \(back[0])")
            let paths = try TestLogs.query(a, "SELECT path FROM coverage ORDER BY run_id").compactMap { $0["path"] as String? }
            #expect(paths.count == 2)
            #expect(paths[0] == dir.appendingPathComponent("a-log/audit.log").path, "a's own read, unmarked")
            #expect(paths[1].hasPrefix(SignalStore.mergedPathPrefix(source: b.path)))
        }
    }

    @Test("refused: a newer schema, a file that is not a killdb database, the target itself")
    func refusals() throws {
        try TestLogs.withScratch { dir in
            let a = try Self.database(dir, "a", log: Self.fleetLog().first)
            let target = dir.appendingPathComponent("t.sqlite")
            let store = try SignalStore.openForWriting(path: target.path)
            #expect(throws: MergeError.self) { try store.merge(from: target.path) }

            let plain = dir.appendingPathComponent("plain.sqlite")
            try DatabaseQueue(path: plain.path).write { try $0.execute(sql: "CREATE TABLE t (x)") }
            #expect(throws: MergeError.self) { try store.merge(from: plain.path) }

            try DatabaseQueue(path: a.path).write {
                try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('999_from_the_future')")
            }
            do {
                _ = try store.merge(from: a.path)
                Issue.record("a newer schema was merged")
            } catch let e as StoreError {
                guard case .newerSchema = e else { Issue.record("\(e)"); return }
            }
            #expect(try Self.count(target, "SELECT COUNT(*) FROM events") == 0)
        }
    }

    @Test("a source written by an older killdb (fewer migrations) is merged")
    func olderSource() throws {
        try TestLogs.withScratch { dir in
            let a = try Self.database(dir, "a", log: Self.fleetLog().first)
            // Forget every migration after the first, as a database of the first release.
            try DatabaseQueue(path: a.path).write { db in
                let first = try String.fetchOne(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")!
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier != ?", arguments: [first])
            }
            let results = try Self.merge([a], into: dir.appendingPathComponent("t.sqlite"))
            #expect(results.first?.newEvents == 6)
        }
    }

    @Test("killdb merge: summary per source, --format json, exit 75 while an ingest holds the target")
    func command() throws {
        try TestLogs.withScratch { dir in
            let log = Self.fleetLog()
            let a = try Self.database(dir, "a", log: log.first)
            let b = try Self.database(dir, "b", log: log.second)
            let target = dir.appendingPathComponent("t.sqlite").path
            let text = try CLI.run(["merge", "--db", target, a.path, b.path])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("\(a.path): 6 new events"), "\(text.stdout)")
            #expect(text.stdout.contains("(12 events in all)"), "\(text.stdout)")
            let json = try CLI.run(["merge", "--db", target, "--format", "json", a.path, b.path])
            #expect(json.status == 0, "\(json.stderr)")
            let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let sources = obj?["sources"] as? [[String: Any]] ?? []
            #expect(sources.map { $0["new_events"] as? Int } == [0, 0])
            #expect(sources.map { $0["source_events"] as? Int } == [6, 6])
            #expect(obj?["events"] as? Int == 12)

            let missing = try CLI.run(["merge", "--db", target, dir.appendingPathComponent("nope.sqlite").path])
            #expect(missing.status == 2 && missing.stderr.contains("nope.sqlite"), "\(missing.stderr)")

            let lock = try IngestLock.acquire(database: target, wait: 0)
            defer { lock.release() }
            let busy = try CLI.run(["merge", "--db", target, "--wait", "0", a.path])
            #expect(busy.status == 75, "\(busy.stderr)")
        }
    }

    @Test("kernel kills and systemd's kills come along once, however often the source is merged")
    func kernelKills() throws {
        try TestLogs.withScratch { dir in
            let fixtures = TestLogs.testsDirectory.appendingPathComponent("Fixtures/kernel")
            var options = IngestOptions()
            options.kernelLogs = [fixtures.appendingPathComponent("kern.log-4.19").path]
            options.journals = [fixtures.appendingPathComponent("journal-systemd.json").path]
            let source = dir.appendingPathComponent("source.sqlite")
            let logs = dir.appendingPathComponent("empty-logs")
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            try TestLogs.write("", to: logs.appendingPathComponent("audit.log"))
            _ = try Ingest.run(paths: [logs.path], databasePath: source.path, options: options)
            let kills = try Self.count(source, "SELECT COUNT(*) FROM kernel_kills")
            let systemd = try Self.count(source, "SELECT COUNT(*) FROM systemd_kills")
            #expect(kills > 0 && systemd > 0)
            let target = dir.appendingPathComponent("target.sqlite")
            let first = try Self.merge([source], into: target)
            #expect(first.first?.newKernelKills == kills)
            let again = try Self.merge([source], into: target)
            #expect(again.first?.newKernelKills == 0 && again.first?.newSystemdActions == 0)
            #expect(try Self.count(target, "SELECT COUNT(*) FROM kernel_kills") == kills)
            #expect(try Self.count(target, "SELECT COUNT(*) FROM systemd_kills") == systemd)
            let same = "SELECT kind, pid, CAST(comm AS BLOB), cgroup, signal_name FROM kernel_kills ORDER BY event_time, pid"
            #expect(try TestLogs.query(target, same).map { $0.description } == TestLogs.query(source, same).map { $0.description })
        }
    }
}
