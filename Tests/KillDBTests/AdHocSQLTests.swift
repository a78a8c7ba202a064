import Foundation
import GRDB
import Queries
import Store
import Testing

/// `killdb sql` reads the database's own tables and views and nothing else, streams its
/// rows, and prints text as `who` does.
@Suite("sql: sandboxed, streamed, and byte-exact")
struct AdHocSQLTests {
    static let fixture = TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path

    func withDatabase(_ body: (String, URL) throws -> Void) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([Self.fixture], db: db)
            try body(db.path, dir)
        }
    }

    static let refused: [String] = [
        "SELECT fts3_tokenizer('simple', x'0000000000000000')",
        "PRAGMA writable_schema = 1",
        "PRAGMA writable_schema",
        "PRAGMA journal_mode = DELETE",
        "CREATE TEMP TABLE t(x)",
        "CREATE TEMP VIEW v AS SELECT 1",
        "ATTACH DATABASE '/etc/passwd' AS other",
        "SELECT load_extension('/tmp/evil.so')",
        "PRAGMA user_version = 7",
        "DELETE FROM events",
        "INSERT INTO strings(value) VALUES ('x')",
    ]

    @Test("reaching outside the database's own tables is refused", arguments: refused)
    func sandbox(_ sql: String) throws {
        try withDatabase { db, dir in
            let store = try SignalStore.openReadOnly(path: db)
            #expect(throws: QueryError.self, "\(sql)") { try AdHocSQL.run(sql, in: store) }
            // The file was not touched by any of them.
            let version = try TestLogs.query(URL(fileURLWithPath: db), "PRAGMA user_version").first?[0] as Int64?
            #expect(version == 0)
        }
    }

    @Test("reading the tables, views, schema pragmas and SQL functions works")
    func allowed() throws {
        try withDatabase { db, _ in
            let store = try SignalStore.openReadOnly(path: db)
            for sql in ["SELECT COUNT(*) FROM signals", "SELECT * FROM lost_events", "PRAGMA table_info(signals)",
                        "SELECT name FROM sqlite_master WHERE type = 'view'", "PRAGMA user_version",
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT sum(i) FROM n",
                        "SELECT datetime(event_time, 'unixepoch'), printf('%05d', target_pid), hex(sender_comm) FROM signals LIMIT 1",
                        "SELECT json_object('a', 1)"] {
                #expect(throws: Never.self, "\(sql)") { try AdHocSQL.run(sql, in: store) }
            }
        }
    }

    @Test("two statements are refused with a plain message, not a library's")
    func oneStatementAtATime() throws {
        try withDatabase { db, _ in
            let r = try CLI.run(["sql", "--db", db, "select 1; select 2"])
            #expect(r.status == 2)
            #expect(r.stderr.contains("one statement at a time"), "\(r.stderr)")
            #expect(!r.stderr.contains("Database.execute"), "\(r.stderr)")
            let trailing = try CLI.run(["sql", "--db", db, "select 1; -- done\n"])
            #expect(trailing.status == 0, "\(trailing.stderr)")
        }
    }

    @Test("csv to a program gives the stored values (RFC 4180, a backslash stays one); a table shows them escaped")
    func textIsByteExact() throws {
        try withDatabase { db, _ in
            let r = try CLI.run(["sql", "--db", db, "--format", "csv",
                                 "SELECT CAST(x'61006200ff63' AS TEXT) AS t, CAST(x'e2808f' AS TEXT) AS rlm, 'a\\b' AS path, 'x,\"y\"' AS q, '=1+1' AS f"])
            #expect(r.status == 0)
            // Bytes that are not UTF-8 become U+FFFD, as in JSON; the exact bytes are hex(CAST(t AS BLOB)).
            #expect(r.stdout == "t,rlm,path,q,f\r\na\u{0}b\u{0}\u{FFFD}c,\u{200F},a\\b,\"x,\"\"y\"\"\",\"'=1+1\"\r\n", "\(r.stdout.debugDescription)")
            let table = try CLI.run(["sql", "--db", db, "SELECT CAST(x'61006200ff63' AS TEXT) AS t"])
            #expect(table.stdout.contains("a\\x00b\\x00\\xffc"), "\(table.stdout.debugDescription)")
        }
    }

    @Test("a large result streams: every row printed, in order, in every format")
    func streaming() throws {
        try withDatabase { db, _ in
            let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) SELECT i, 'row' || i AS name FROM n"
            let csv = try CLI.run(["sql", "--db", db, "--format", "csv", sql])
            let lines = csv.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.count == 2501)
            #expect(lines.first == "i,name" && lines.last == "2500,row2500")
            let json = try CLI.run(["sql", "--db", db, "--format", "json", sql])
            let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
            #expect(parsed?.count == 2500)
            #expect(parsed?.last?["name"] as? String == "row2500")
            let table = try CLI.run(["sql", "--db", db, sql])
            let rows = table.stdout.split(separator: "\n")
            #expect(rows.count == 2502)  // header, rule, rows
            #expect(rows.filter { $0.hasPrefix("---") || $0.contains("name") }.count == 2)
            let empty = try CLI.run(["sql", "--db", db, "--format", "json", "SELECT 1 WHERE 0"])
            #expect(empty.stdout == "[]\n" && empty.status == 1)
        }
    }

    /// The streaming reader holds one chunk: measured (by /usr/bin/time, for this process
    /// alone) as the peak resident size of printing 12,000 rows of 4 KB (48 MB of CSV). A
    /// debug build idles at about 27 MB and peaks near 40 MB streaming; holding the result
    /// (the rows, then the rendered text) would need more than 120 MB.
    @Test("memory stays bounded by the chunk, not the result",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time")))
    func boundedMemory() throws {
        try withDatabase { db, dir in
            let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) SELECT i, printf('%.4000c', 'x') AS pad FROM n"
            let out = dir.appendingPathComponent("out.csv"), peak = dir.appendingPathComponent("peak")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "exec /usr/bin/time -f %M -o \"$4\" \"$0\" sql --db \"$1\" --format csv \"$2\" > \"$3\"",
                           CLI.binary, db, sql, out.path, peak.path]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            let kib = Int(try String(contentsOf: peak, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max
            #expect(kib < 70_000, "peak RSS \(kib) KiB")
            #expect(try TestLogs.size(out) > 48_000_000)
        }
    }
}
