import AuditDecoding
import CSQLite
import GRDB

extension StoreTransaction {
    /// Rows per INSERT for an event's targets: each statement's own cost (its start and
    /// end, the statement journal its constraints need: every page it changes copied once) is
    /// paid once per this many rows. 64 rows are 768 parameters, under every SQLite build's
    /// limit; where the build allows more (32,766 since SQLite 3.32), 1024 rows.
    static func targetRowsPerStatement(_ db: Database) -> Int {
        let limit = Int(sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
        return max(64, min(1024, limit / 12))
    }

    /// One targets row per process the signal reached. A kill(-1) or a process-group kill
    /// may reach 100,000 processes in one event, so the work per row is kept to the insert
    /// itself: the event's signal, outcome and time (copied into every row for the
    /// indexes) come from the caller, read once per event, not joined per row; rows go in pid order, so the
    /// primary key and the pid index grow at their ends; they are bound straight into a
    /// prepared statement, without an arguments array each, 64 rows to a statement. With
    /// signal, failed and time_ms given, the targets_copies trigger (for older writers) is idle.
    func storeTargets(_ targets: [SignalTarget], event rowID: Int64, signal: Int64?, failed: Int64?, timeMS time: Int64?) throws {
        guard !targets.isEmpty else { return }
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        let ordered = targets.count > 1 ? targets.sorted { $0.pid < $1.pid } : targets
        let per = ordered.count >= 1024 ? Self.targetRowsPerStatement(db) : 64
        var start = 0
        while start < ordered.count {
            let left = ordered.count - start
            let rows = left >= per ? per : left >= 64 ? 64 : 1
            let statement = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO targets (event_id, pid, uid, auid, ses, comm_id, obj_id, uid_name_id, auid_name_id,
                  signal, failed, time_ms)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
                """)
            let s = statement.sqliteStatement
            defer {
                sqlite3_reset(s)
                sqlite3_clear_bindings(s)
            }
            sqlite3_reset(s)
            for (r, t) in ordered[start..<(start + rows)].enumerated() {
                // Strings first: interning runs statements of its own.
                let comm = try id(t.comm), object = try id(t.object)
                let uidName = try id(t.uidName), auidName = try id(t.auidName)
                var i = Int32(r * 12)
                func bind(_ v: Int64?) {
                    i += 1
                    if let v { sqlite3_bind_int64(s, i, v) } else { sqlite3_bind_null(s, i) }
                }
                bind(rowID); bind(t.pid); bind(t.uid); bind(t.auid.map(Self.signed32)); bind(t.ses.map(Self.signed32)); bind(comm); bind(object)
                bind(uidName); bind(auidName); bind(signal); bind(failed); bind(time)
            }
            let rc = sqlite3_step(s)
            guard rc == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc),
                                    message: String(cString: sqlite3_errmsg(sqlite3_db_handle(s))),
                                    sql: statement.sql)
            }
            start += rows
        }
    }
}
