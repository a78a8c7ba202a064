import Foundation
import GRDB
import KernelTrace
@testable import KillDB
import Store
import Testing

/// The tracer's writer queue: records it must drop (memory full while the database lags)
/// are coverage, not silence; and its transactions, which skip SQLite's foreign-key checks,
/// still leave every reference pointing at a row.
@Suite("tracer writer: drops counted, references whole")
struct TraceWriterQueueTests {
    static func writer(_ url: URL, limit: Int) throws -> (TraceWriter, SignalStore, TraceSession) {
        let store = try SignalStore.openForWriting(path: url.path)
        let session = try store.transaction { tx in
            try tx.beginTraceSession(version: "test", hostname: nil, signals: "all", bootID: "boot-a", bootTime: 1_795_000_000)
        }
        var options = LiveTraceOptions()
        options.queueLimit = limit
        return (TraceWriter(store: store, session: session, options: options), store, session)
    }

    @Test("memory full: the oldest records go, and the session's coverage says how many and when")
    func dropsAreCoverage() throws {
        try TestLogs.withScratch { dir in
            let url = dir.appendingPathComponent("t.sqlite")
            let (writer, _, session) = try Self.writer(url, limit: 10)
            // Queued before the writer starts: 25 arrive, 10 fit.
            writer.enqueue((0..<20).map { TraceMergeTests.record($0) })
            writer.enqueue((20..<25).map { TraceMergeTests.record($0) })
            writer.start()
            let status = writer.finish(failed: false)
            #expect(status.dropped == 15)
            #expect(status.records == 10)
            let db = try DatabaseQueue(path: url.path)
            try db.read { db in
                let stored = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM traced_signal_records") ?? -1
                #expect(stored == 10)
                // The newest ten were kept.
                let first = try Double.fetchOne(db, sql: "SELECT MIN(time) FROM traced_signal_records") ?? 0
                #expect(first == TraceMergeTests.record(15).time)
                // One loss a second of the records' time at most (these are a second apart).
                let rows = try Row.fetchAll(db, sql: """
                    SELECT MIN(from_time) AS f, MAX(to_time) AS t, SUM(lost) AS n, COUNT(*) AS c FROM trace_losses WHERE session_id = ?
                    """, arguments: [session.runID])
                #expect(rows.first?["n"] == 15)
                #expect(rows.first?["c"] == 2)
                #expect(rows.first?["f"] == TraceMergeTests.record(0).time)
                #expect(rows.first?["t"] == TraceMergeTests.record(14).time)
                #expect(try Int.fetchOne(db, sql: "SELECT lost FROM trace_sessions WHERE run_id = ?", arguments: [session.runID]) == 15)
                #expect(try Int.fetchOne(db, sql: "SELECT SUM(lost) FROM trace_coverage") == 15)
            }
        }
    }

    @Test("the writer's batches, stored without SQLite's foreign-key checks, satisfy every foreign key")
    func referencesWhole() throws {
        try TestLogs.withScratch { dir in
            let url = dir.appendingPathComponent("t.sqlite")
            let (writer, store, _) = try Self.writer(url, limit: 1000)
            writer.start()
            writer.enqueue((0..<300).map { TraceMergeTests.record($0) })
            writer.enqueue(loss: TraceLoss(from: 1_796_000_400, to: 1_796_000_401, count: 3))
            let status = writer.finish(failed: false)
            #expect(status.records == 300)
            try DatabaseQueue(path: url.path).read { db in
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM traced_record_processes") == 600)
                let broken = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                #expect(broken.isEmpty, "\(broken)")
            }
            // And the writer's connection checks them again for what follows.
            #expect(try store.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") } == 1)
        }
    }
}
