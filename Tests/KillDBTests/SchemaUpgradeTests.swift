import Foundation
import GRDB
@testable import Store
import Testing

@Suite("schema migrations")
struct SchemaUpgradeTests {
    @Test("a database an older killdb wrote is brought up to date when queried")
    func olderDatabase() throws {
        try TestLogs.withScratch { dir in
            let path = dir.appendingPathComponent("old.sqlite").path
            // What killdb 0.1's first release wrote: the first migration only.
            var old = DatabaseMigrator()
            let first = try #require(embeddedMigrations.first)
            old.registerMigration(first.name) { db in try db.execute(sql: first.sql) }
            try old.migrate(DatabaseQueue(path: path))

            // Sources of a merge and doctor never write.
            #expect(try SignalStore.openReadOnly(path: path).appliedMigrations() == [first.name])
            let store = try SignalStore.openReadOnly(path: path, upgrading: true)
            #expect(try store.appliedMigrations() == embeddedMigrations.map(\.name))
            // The newest views answer.
            _ = try store.read { try Row.fetchAll($0, sql: "SELECT * FROM kernel_kills") }
        }
    }

    @Test("migration 004: each run's kind and status are checked columns, backfilled from the paths that told them")
    func runKinds() throws {
        try TestLogs.withScratch { dir in
            let path = dir.appendingPathComponent("old.sqlite").path
            // A database as migration 003 left it: a file ingest, a plugin session and a merged copy.
            var old = DatabaseMigrator()
            for m in embeddedMigrations where m.name < "004" {
                old.registerMigration(m.name) { db in try db.execute(sql: m.sql) }
            }
            let queue = try DatabaseQueue(path: path)
            try old.migrate(queue)
            try queue.write { db in
                for (id, status, path) in [(1, "complete", "/var/log/audit/audit.log"), (2, "running", "(auditd plugin)"),
                                           (3, "interrupted", "[merged from /tmp/web1.sqlite] /var/log/audit/audit.log")] {
                    try db.execute(sql: "INSERT INTO ingest_runs (id, started_at, status, killdb_version) VALUES (?, 1, ?, '0.1.0')",
                                   arguments: [id, status])
                    try db.execute(sql: """
                        INSERT INTO file_reads (run_id, path, device, inode, start_offset, end_offset, lines, records,
                          events, signal_events, bad_lines) VALUES (?, ?, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                        """, arguments: [id, Data(path.utf8)])
                }
            }
            try queue.close()

            let store = try SignalStore.openForWriting(path: path)
            let runs = try store.read { try Row.fetchAll($0, sql: "SELECT id, kind, status FROM ingest_runs ORDER BY id") }
            #expect(runs.map { $0["kind"] as String } == ["ingest", "plugin", "merge"])
            #expect(runs.map { $0["status"] as String } == ["complete", "running", "interrupted"])
            // The file reads are kept; coverage shows the kind.
            let coverage = try store.read { try Row.fetchAll($0, sql: "SELECT path, run_kind FROM coverage ORDER BY run_id") }
            #expect(coverage.map { $0["run_kind"] as String } == ["ingest", "plugin", "merge"])

            // A plugin still running the previous binary begins its run without a kind.
            try store.transaction { tx in
                try tx.db.execute(sql: "INSERT INTO ingest_runs (id, started_at, status, killdb_version) VALUES (9, 2, 'running', '0.1.0')")
                try tx.db.execute(sql: """
                    INSERT INTO file_reads (run_id, path, device, inode, start_offset, end_offset, lines, records,
                      events, signal_events, bad_lines) VALUES (9, CAST('(auditd plugin)' AS BLOB), 0, 0, 0, 0, 0, 0, 0, 0, 0)
                    """)
            }
            #expect(try store.read { try String.fetchOne($0, sql: "SELECT kind FROM ingest_runs WHERE id = 9") } == "plugin")

            // Every kind and status the write side knows is accepted; nothing else is.
            try store.transaction { tx in
                for kind in RunKind.allCases {
                    let run = try tx.beginRun(kind, version: "test", hostname: nil)
                    for status in RunStatus.allCases { try tx.updateRun(run, totals: RunTotals(), status: status) }
                }
            }
            for sql in ["INSERT INTO ingest_runs (started_at, status, killdb_version, kind) VALUES (1, 'complete', 'x', '(auditd plugin)')",
                        "INSERT INTO ingest_runs (started_at, status, killdb_version) VALUES (1, 'done', 'x')"] {
                #expect(throws: (any Error).self) { try store.transaction { tx in try tx.db.execute(sql: sql) } }
            }
        }
    }

    @Test("migration 009: each command line is kept once, argv only where the command line cannot tell it; the same answers")
    func oneCommandLine() throws {
        try TestLogs.withScratch { dir in
            let path = dir.appendingPathComponent("008.sqlite").path
            var old = DatabaseMigrator()
            for m in embeddedMigrations.prefix(while: { $0.name < "009" }) {
                old.registerMigration(m.name) { db in try db.execute(sql: m.sql) }
            }
            let long = "java -Xmx4g -jar /opt/service/lib/service-launcher.jar --config /etc/service.yaml"
            // (argv as PROCTITLE logged it, the command line as killdb 0.1 joined it)
            let lines: [(argv: String, cmdline: String)] = [
                ("kill\0-9\01234", "kill -9 1234"),            // the usual case: argv is the command line
                ("sh\0-c\0kill -9 77", "sh -c kill -9 77"),     // an argument with spaces
                ("sleep\0" + "10\0\0", "sleep 10"),            // NULs at the end
                (long.replacingOccurrences(of: " ", with: "\0"), long),
                ("kill\0-9\01234", "kill -9 1234"),            // the same again: one string
            ]
            let queue = try DatabaseQueue(path: path)
            try old.migrate(queue)
            try queue.write { db in
                try db.execute(sql: "INSERT INTO strings (value) VALUES (x''), ('b64'), ('kill'), ('SIGKILL'), ('bash')")
                for (i, l) in lines.enumerated() {
                    try db.execute(sql: "INSERT OR IGNORE INTO strings (value) VALUES (?), (?)",
                                   arguments: [Data(l.argv.utf8), Data(l.cmdline.utf8)])
                    try db.execute(sql: """
                        INSERT INTO events (node_id, sec, msec, serial, arch, arch_name_id, syscall, syscall_name_id, signal,
                          signal_name_id, success, exit, sender_pid, sender_comm_id, sender_cmdline_id, sender_argv_id)
                        VALUES (1, ?, 0, ?, 3221225534, 2, 62, 3, 9, 4, 1, 0, 100, 5,
                          (SELECT id FROM strings WHERE value = ?), (SELECT id FROM strings WHERE value = ?))
                        """, arguments: [1_700_000_000 + i, 10 + i, Data(l.cmdline.utf8), Data(l.argv.utf8)])
                    try db.execute(sql: """
                        INSERT INTO targets (event_id, pid, uid, auid, ses, comm_id, signal, failed, time_ms)
                        VALUES (?, ?, 0, 4294967295, 4294967295, 5, 9, 0, ?)
                        """, arguments: [db.lastInsertedRowID, 2000 + i, Int64(1_700_000_000 + i) * 1000])
                }
            }
            let before = try queue.read { try Row.fetchAll($0, sql: "SELECT * FROM signals ORDER BY event_rowid") }
            let stringsBefore = try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM strings") ?? 0 }
            try queue.close()

            let store = try SignalStore.openForWriting(path: path)
            try store.read { db in
                // The public view answers exactly as before.
                let after = try Row.fetchAll(db, sql: "SELECT * FROM signals ORDER BY event_rowid")
                #expect(after.map { Array($0.columnNames) } == before.map { Array($0.columnNames) })
                #expect(after.map { $0["sender_cmdline"] as String? } == lines.map(\.cmdline))
                for (a, b) in zip(after, before) {
                    for column in b.columnNames { #expect(a[column] as DatabaseValue == b[column] as DatabaseValue, "\(column)") }
                }
                // Short command lines in the row; argv only for the two it cannot be told from.
                let rows = try Row.fetchAll(db, sql: """
                    SELECT e.sender_cmdline IS NOT NULL AS inline, e.sender_cmdline_id IS NOT NULL AS interned,
                           a.value AS argv FROM events e LEFT JOIN strings a ON a.id = e.sender_argv_id ORDER BY e.id
                    """)
                #expect(rows.map { $0["inline"] as Bool } == [true, true, true, false, true])
                #expect(rows.map { $0["interned"] as Bool } == [false, false, false, true, false])
                #expect(rows.map { ($0["argv"] as Data?).map { String(decoding: $0, as: UTF8.self) } }
                        == [nil, lines[1].argv, lines[2].argv, nil, nil])
                // Strings no event needs any more are gone: the three short command lines and
                // the argv of the two recoverable ones (the usual case, the long one); nothing else.
                let strings = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM strings") ?? 0
                #expect(strings == stringsBefore - 3 - 2)
                #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
                // One index finds an event by identity and reads time in order.
                #expect(try !db.indexes(on: "events").contains { $0.name == "events_time" })
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM events WHERE sec BETWEEN 1 AND 2")
                    .map { $0["detail"] as String }.joined()
                #expect(plan.contains("sqlite_autoindex_events_1"), "\(plan)")
            }
        }
    }

    @Test("a database a newer killdb wrote is refused, not misread")
    func newerDatabase() throws {
        try TestLogs.withScratch { dir in
            let path = dir.appendingPathComponent("new.sqlite").path
            _ = try SignalStore.openForWriting(path: path)
            try DatabaseQueue(path: path).write { try $0.execute(sql: "INSERT INTO grdb_migrations VALUES ('999_future')") }
            #expect(throws: StoreError.self) { try SignalStore.openReadOnly(path: path) }
        }
    }
}
