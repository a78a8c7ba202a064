import CSQLite
import Foundation
import Store

/// The result of a query as SQLite typed it. Text is the exact bytes stored: a NUL or a
/// byte that is not UTF-8 is the output's to show, not the query's to lose.
public struct QueryResult: Sendable {
    public enum Value: Sendable, Equatable {
        case null
        case integer(Int64)
        case real(Double)
        case text([UInt8])
        case blob([UInt8])
    }
    public var columns: [String]
    public var rows: [[Value]]
}

/// `killdb sql`: any query against the database, on a connection of its own that can only
/// read the database's own tables and views.
///
/// The connection is read-only (SQLite refuses writes itself), in defensive mode (no
/// writable_schema, no shadow-table tricks), with two-argument fts3_tokenizer() and
/// extension loading off, and an authorizer that allows reading `main`, SELECT, the
/// functions of SQL except those that reach outside it, and read-only schema pragmas;
/// it denies ATTACH, other pragmas, temporary objects and every write. Rows are streamed
/// to the caller, so memory stays flat whatever the result's size.
public enum AdHocSQL {
    /// Pragmas that only report: the schema's shape and the file's vital signs.
    static let readOnlyPragmas: Set<String> = [
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
        "foreign_key_list", "collation_list", "function_list", "pragma_list", "module_list",
        "compile_options", "page_count", "freelist_count", "data_version",
        "user_version", "schema_version", "application_id", "page_size", "encoding",
    ]
    /// Functions that reach outside the query: a pointer from SQL, loading code.
    static let deniedFunctions: Set<String> = ["fts3_tokenizer", "load_extension"]

    /// Runs `sql` against the database at `path`: `columns` is called once with the column
    /// names, then `row` for each row until it returns false. Returns the rows delivered.
    @discardableResult
    public static func stream(_ sql: String, path: String, immutable: Bool = false,
                              columns: ([String]) throws -> Void,
                              row: ([QueryResult.Value]) throws -> Bool) throws -> Int {
        var db: OpaquePointer?
        let name = immutable ? ImmutableDatabase.uri(path) : path
        let flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (immutable ? SQLITE_OPEN_URI : 0)
        let opened = sqlite3_open_v2(name, &db, flags, nil)
        defer { sqlite3_close_v2(db) }
        guard opened == SQLITE_OK, let db else {
            throw QueryError.badSQL(db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)")
        }
        sqlite3_extended_result_codes(db, 1)
        _ = killdb_sqlite3_defensive(db)
        _ = killdb_sqlite3_no_fts3_tokenizer(db)
        _ = killdb_sqlite3_no_load_extension(db)
        _ = killdb_sqlite3_untrusted_schema(db)
        sqlite3_busy_timeout(db, 10_000)
        sqlite3_set_authorizer(db, authorize, nil)

        var statement: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let utf8 = Array(sql.utf8CString)
        try utf8.withUnsafeBufferPointer { buffer in
            let start = buffer.baseAddress!
            guard sqlite3_prepare_v2(db, start, -1, &statement, &tail) == SQLITE_OK else {
                throw failure(db, path: path)
            }
            // What follows the first statement must be nothing but space and comments.
            var rest = tail
            while let r = rest, r.pointee != 0 {
                var next: OpaquePointer?
                var after: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v2(db, r, -1, &next, &after)
                if next != nil || rc != SQLITE_OK {
                    sqlite3_finalize(next)
                    sqlite3_finalize(statement)
                    throw QueryError.badSQL("one statement at a time: run each with its own killdb sql")
                }
                rest = after
            }
        }
        guard let statement else { throw QueryError.badSQL("no SQL statement given") }
        defer { sqlite3_finalize(statement) }
        let count = Int(sqlite3_column_count(statement))
        try columns((0..<count).map { String(cString: sqlite3_column_name(statement, Int32($0))) })
        var delivered = 0
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw failure(db, path: path) }
            var values: [QueryResult.Value] = []
            values.reserveCapacity(count)
            for i in 0..<Int32(count) {
                switch sqlite3_column_type(statement, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(statement, i)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(statement, i)))
                case SQLITE_TEXT:
                    let p = sqlite3_column_text(statement, i)
                    let n = Int(sqlite3_column_bytes(statement, i))
                    values.append(.text(p.map { Array(UnsafeBufferPointer(start: $0, count: n)) } ?? []))
                case SQLITE_BLOB:
                    let p = sqlite3_column_blob(statement, i)
                    let n = Int(sqlite3_column_bytes(statement, i))
                    values.append(.blob(p.map { Array(UnsafeRawBufferPointer(start: $0, count: n)) } ?? []))
                default: values.append(.null)
                }
            }
            delivered += 1
            if try !row(values) { break }
        }
        return delivered
    }

    /// The whole result in memory, up to `limit` rows (for tests and small answers).
    public static func run(_ sql: String, in store: SignalStore, limit: Int? = nil) throws -> QueryResult {
        var result = QueryResult(columns: [], rows: [])
        try stream(sql, path: store.path, immutable: store.immutable, columns: { result.columns = $0 }) { row in
            result.rows.append(row)
            return limit.map { result.rows.count < $0 } ?? true
        }
        return result
    }

    static func failure(_ db: OpaquePointer, path: String) -> any Error {
        let message = String(cString: sqlite3_errmsg(db))
        switch sqlite3_extended_errcode(db) & 0xff {
        case SQLITE_AUTH:
            return QueryError.readOnly("\(message): killdb sql reads the database's own tables and views only; ATTACH, PRAGMAs that change or reach outside it, temporary objects and writes are refused")
        case SQLITE_READONLY:
            return QueryError.readOnly(message)
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return StoreError.corrupt(path: path, detail: message)
        default:
            return QueryError.badSQL(message)
        }
    }
}

/// The authorizer: what a statement of `killdb sql` may do, asked of each part as SQLite
/// compiles it.
private let authorize: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?,
                                       UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                       UnsafePointer<CChar>?) -> Int32 = { _, action, a1, a2, database, _ in
    func text(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
    switch action {
    case SQLITE_SELECT, SQLITE_RECURSIVE, SQLITE_TRANSACTION, SQLITE_SAVEPOINT:
        return SQLITE_OK
    case SQLITE_READ:
        // Views and tables of the database itself; nothing attached, nothing temporary.
        return text(database) == "main" || database == nil ? SQLITE_OK : SQLITE_DENY
    case SQLITE_FUNCTION:
        return AdHocSQL.deniedFunctions.contains(text(a2)?.lowercased() ?? "") ? SQLITE_DENY : SQLITE_OK
    case SQLITE_PRAGMA:
        guard let name = text(a1)?.lowercased(), AdHocSQL.readOnlyPragmas.contains(name) else { return SQLITE_DENY }
        // user_version = 5 sets; table_info(signals) names a table.
        let setting: Set<String> = ["user_version", "schema_version", "application_id", "page_size", "encoding"]
        return setting.contains(name) && a2 != nil ? SQLITE_DENY : SQLITE_OK
    default:
        return SQLITE_DENY
    }
}
