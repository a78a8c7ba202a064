import Foundation
import GRDB
import Queries
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

    @Test("migration 017: events found by the pid the sender gave are marked and indexed alone; arch signed, a0/a1 once; the same answers")
    func leanEvents() throws {
        try TestLogs.withScratch { dir in
            let path = dir.appendingPathComponent("017.sqlite").path
            var old = DatabaseMigrator()
            for m in embeddedMigrations.prefix(while: { $0.name < "017" }) {
                old.registerMigration(m.name) { db in try db.execute(sql: m.sql) }
            }
            let queue = try DatabaseQueue(path: path)
            try old.migrate(queue)
            // (syscall, number, a0, a1, a2, target_arg, tgid_arg, pidfd, success, exit, targets)
            let events: [(String, Int, Int64, Int64, Int64, Int64?, Int64?, Int64?, Int, Int, [Int64])] = [
                ("kill", 62, 2000, 9, 0, 2000, nil, nil, 1, 0, [2000]),              // reached its pid: by that pid
                ("kill", 62, -1, 9, 0, -1, nil, nil, 1, 0, [3000, 3001]),           // every process: by -1
                ("tgkill", 234, 4000, 4001, 9, 4001, 4000, nil, 1, 0, [4000]),      // a thread: by its tid
                ("kill", 62, 5000, 9, 0, 5000, nil, nil, 0, -3, []),                // ESRCH: by the pid asked for
                ("pidfd_send_signal", 424, 3, 9, 0, nil, nil, 3, 1, 0, [6000]),    // a pidfd: no pid given
                ("kill", 62, 0x1_0000_07d0, 9, 0, 2000, nil, nil, 1, 0, [2000]),   // a0 that is not the pid: kept
            ]
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO strings (id, value) VALUES (1, x''), (2, CAST('x86_64' AS BLOB)), (3, CAST('kill' AS BLOB)),
                      (4, CAST('tgkill' AS BLOB)), (5, CAST('pidfd_send_signal' AS BLOB)), (6, CAST('SIGKILL' AS BLOB)),
                      (7, CAST('bash' AS BLOB)), (8, CAST('ESRCH' AS BLOB))
                    """)
                for (i, e) in events.enumerated() {
                    try db.execute(sql: """
                        INSERT INTO events (node_id, sec, msec, serial, arch, arch_name_id, syscall, syscall_name_id, signal,
                          signal_name_id, success, exit, errno_id, target_arg, tgid_arg, pidfd, a0, a1, a2, a3,
                          sender_pid, sender_comm_id, sender_cmdline)
                        VALUES (1, ?, 0, ?, 3221225534, 2, ?, (SELECT id FROM strings WHERE value = CAST(? AS BLOB)), 9, 6, ?, ?,
                          ?, ?, ?, ?, ?, ?, ?, 0, 100, 7, CAST('kill -9 1' AS BLOB))
                        """, arguments: [1_700_000_000 + i, 10 + i, e.1, e.0, e.8, e.9, e.8 == 0 ? 8 : nil,
                                         e.5, e.6, e.7, e.2, e.3, e.4])
                    let id = db.lastInsertedRowID
                    for pid in e.10 {
                        try db.execute(sql: """
                            INSERT INTO targets (event_id, pid, uid, auid, ses, comm_id, signal, failed, time_ms)
                            VALUES (?, ?, 0, -1, -1, 7, 9, ?, ?)
                            """, arguments: [id, pid, e.8 == 0 ? 1 : 0, Int64(1_700_000_000 + i) * 1000])
                    }
                }
            }
            let before = try queue.read { try Row.fetchAll($0, sql: "SELECT * FROM signals ORDER BY event_rowid, target_pid") }
            try queue.close()

            let store = try SignalStore.openForWriting(path: path)
            try store.read { db in
                let after = try Row.fetchAll(db, sql: "SELECT * FROM signals ORDER BY event_rowid, target_pid")
                #expect(after.count == before.count)
                for (a, b) in zip(after, before) {
                    for column in b.columnNames { #expect(a[column] as DatabaseValue == b[column] as DatabaseValue, "\(column)") }
                }
                let rows = try Row.fetchAll(db, sql: """
                    SELECT arch, a0, a1, by_target_arg, COALESCE(a0, tgid_arg, target_arg, pidfd) AS raw0,
                           COALESCE(a1, signal) AS raw1, arch & 4294967295 AS code FROM events ORDER BY id
                    """)
                #expect(rows.map { $0["by_target_arg"] as Int64? } == [nil, 1, 1, 1, nil, nil])
                #expect(rows.map { $0["arch"] as Int64 } == Array(repeating: -1_073_741_762, count: events.count))
                #expect(rows.map { $0["code"] as Int64 } == Array(repeating: 3_221_225_534, count: events.count))
                #expect(rows.map { $0["a0"] as Int64? } == [nil, nil, nil, nil, nil, 0x1_0000_07d0])
                #expect(rows.map { $0["a1"] as Int64? } == [nil, nil, 4001, nil, nil, nil])
                #expect(rows.map { $0["raw0"] as Int64 } == events.map(\.2))
                #expect(rows.map { $0["raw1"] as Int64 } == events.map(\.3))
                // The index holds the marked events alone, and the questions by the pid given use it.
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events INDEXED BY events_target_arg WHERE by_target_arg IS NOT NULL") == 3)
                let plan = try Row.fetchAll(db, sql: """
                    EXPLAIN QUERY PLAN SELECT id FROM events e WHERE e.target_arg = 5000 AND e.by_target_arg IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM targets n WHERE n.event_id = e.id)
                    """).map { $0["detail"] as String }.joined()
                #expect(plan.contains("events_target_arg"), "\(plan)")
            }
            // who finds each by the number it is asked for, as before.
            func who(_ pid: Int64) throws -> [String] {
                var q = SignalQuery()
                q.targetPid = pid
                q.includeFailed = true
                return try Who.ask(q, in: store).rows.map { "\($0.eventID) \($0.targetPid.map(String.init) ?? "-")" }
            }
            #expect(try who(2000) == ["1700000005.000:15 2000", "1700000000.000:10 2000"])
            #expect(try who(-1) == ["1700000001.000:11 3000", "1700000001.000:11 3001"])
            #expect(try who(4001) == ["1700000002.000:12 4000"])
            #expect(try who(5000) == ["1700000003.000:13 -"])
            #expect(try who(6000) == ["1700000004.000:14 6000"])
            // A writer that does not know the column (an older binary still running) leaves its events indexed.
            try store.transaction { tx in
                try tx.db.execute(sql: "INSERT INTO events (node_id, sec, msec, serial, arch, arch_name_id, syscall, syscall_name_id) VALUES (1, 1, 0, 1, 0, 2, 62, 3)")
            }
            #expect(try store.read { try Int64.fetchOne($0, sql: "SELECT by_target_arg FROM events WHERE sec = 1") } == 1)
        }
    }

    @Test("ingest marks the events found by the pid the sender gave, and stores a0/a1 only when they say more")
    func leanEventsWritten() throws {
        try TestLogs.withScratch { dir in
            func event(_ n: Int, syscall: Int, a0: String, a1: String, a2: String = "0", result: String, targets: [Int]) -> String {
                let stamp = "audit(1700000100.000:\(n))"
                var out = "type=SYSCALL msg=\(stamp): arch=c000003e syscall=\(syscall) \(result) a0=\(a0) a1=\(a1) a2=\(a2) a3=0 items=0 ppid=1 pid=77 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm=\"kill\" exe=\"/usr/bin/kill\" key=\"killdb\"\n"
                for pid in targets { out += "type=OBJ_PID msg=\(stamp): opid=\(pid) oauid=-1 ouid=0 oses=-1 ocomm=\"w\"\n" }
                return out + "type=EOE msg=\(stamp): \n"
            }
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(event(1, syscall: 62, a0: "7d0", a1: "9", result: "success=yes exit=0", targets: [2000])   // reached: by its pid
                + event(2, syscall: 62, a0: "ffffffffffffffff", a1: "9", result: "success=yes exit=0", targets: [3000, 3001])  // every process
                + event(3, syscall: 200, a0: "fa1", a1: "9", result: "success=yes exit=0", targets: [4000])   // tkill(4001): a thread
                + event(4, syscall: 62, a0: "1388", a1: "9", result: "success=no exit=-3", targets: [])       // ESRCH
                + event(5, syscall: 234, a0: "fa0", a1: "fa1", a2: "f", result: "success=yes exit=0", targets: [4000]),  // tgkill
                to: log)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let rows = try DatabaseQueue(path: db.path).read { db in
                try Row.fetchAll(db, sql: "SELECT by_target_arg, arch, a0, a1, a2, target_arg, tgid_arg FROM events ORDER BY serial")
            }
            #expect(rows.map { $0["by_target_arg"] as Int64? } == [nil, 1, 1, 1, 1])
            #expect(rows.map { $0["arch"] as Int64 } == Array(repeating: -1_073_741_762, count: 5))
            #expect(rows.map { $0["a0"] as Int64? } == [nil, nil, nil, nil, nil])
            #expect(rows.map { $0["a1"] as Int64? } == [nil, nil, nil, nil, 4001])
            #expect(rows.map { $0["a2"] as Int64? } == [0, 0, 0, 0, 15])
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
