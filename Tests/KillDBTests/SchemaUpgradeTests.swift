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
