import Foundation
import GRDB
import KillDB
import Store
import Testing

/// A database file that is not killdb's is left alone, and one SQLite finds damaged stops
/// writers and readers with a clear message and exit 4, instead of being written on and
/// answered from.
@Suite("database integrity: another application's file, a damaged file")
struct DatabaseIntegrityTests {
    static let fixture = TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path

    @Test("another application's database is refused and left exactly as it was")
    func foreignDatabase() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("app.sqlite")
            let queue = try DatabaseQueue(path: db.path)
            try queue.write { try $0.execute(sql: "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES ('x')") }
            try queue.close()
            let before = try Data(contentsOf: db)
            #expect(throws: StoreError.self) { try TestLogs.ingest([Self.fixture], db: db) }
            #expect(try Data(contentsOf: db) == before, "the file was changed")
            #expect(!FileManager.default.fileExists(atPath: db.path + "-wal"))
            let r = try CLI.run(["ingest", "--db", db.path, Self.fixture])
            #expect(r.status == 2)
            #expect(r.stderr.contains("not a killdb database"), "\(r.stderr)")
            let w = try CLI.run(["who", "--db", db.path, "1"])
            #expect(w.status == 2 && w.stderr.contains("not a killdb database"), "\(w.stderr)")
        }
    }

    /// Page 1 (the schema) intact, every later page overwritten.
    func damage(_ db: URL) throws {
        let queue = try DatabaseQueue(path: db.path)
        try queue.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try queue.close()
        let handle = try FileHandle(forUpdating: db)
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0xa5, count: Int(size) - 4096))
    }

    @Test("a damaged database stops ingest, who and sql with exit 4 and says what to do")
    func damagedDatabase() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([Self.fixture], db: db)
            try damage(db)
            let other = dir.appendingPathComponent("more.log")
            try TestLogs.write(AuditLine.killEvent("1700007000.000:900", target: 9100), to: other)
            try TestLogs.age(other)
            let i = try CLI.run(["ingest", "--db", db.path, other.path])
            #expect(i.status == 4, "\(i.stderr)")
            #expect(i.stderr.contains("damaged"), "\(i.stderr)")
            let w = try CLI.run(["who", "--db", db.path, "1"])
            #expect(w.status == 4, "\(w.status) \(w.stderr) \(w.stdout)")
            let s = try CLI.run(["sql", "--db", db.path, "SELECT COUNT(*) FROM events"])
            #expect(s.status == 4, "\(s.status) \(s.stderr)")
        }
    }
}
