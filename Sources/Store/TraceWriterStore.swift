import Foundation
import GRDB
import Pipeline

extension StoreTransaction {
    /// The spans of tracer writers' anchors an ingest saw (migration 018): each upserted by
    /// its node, pid and first anchor, its last anchor the latest seen.
    func store(traceWriters spans: [TraceWriterSpan]) throws {
        for s in spans {
            try db.execute(sql: """
                INSERT INTO trace_writers (node_id, pid, first_time, last_time, exe_id) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (node_id, pid, first_time) DO UPDATE SET last_time = max(last_time, excluded.last_time)
                """, arguments: [try store.intern(Array(s.node.utf8), db), s.pid, s.first, s.last,
                                 try store.intern(s.exe, db)])
        }
    }
}

extension SignalStore {
    /// Every stored span of tracer writers' anchors, for an ingest's pipeline.
    public func traceWriters() throws(StoreError) -> [TraceWriterSpan] {
        try read { db in
            guard try db.tableExists("trace_writers") else { return [] }
            return try Row.fetchAll(db, sql: """
                SELECT CAST(n.value AS TEXT) AS node, w.pid, w.first_time, w.last_time, CAST(e.value AS BLOB) AS exe
                FROM trace_writers w JOIN strings n ON n.id = w.node_id JOIN strings e ON e.id = w.exe_id
                """).map {
                TraceWriterSpan(node: $0["node"], pid: $0["pid"], first: $0["first_time"], last: $0["last_time"],
                                exe: [UInt8]($0["exe"] as Data))
            }
        }
    }
}
