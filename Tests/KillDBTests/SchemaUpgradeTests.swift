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
