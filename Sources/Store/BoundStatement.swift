import CSQLite
import Foundation
import GRDB

/// One of the statements an ingest runs once per event or target, bound through SQLite's C
/// API: GRDB's `StatementArguments` boxes every value as an existential and allocates per
/// call, which the profile of a signal-dense ingest showed as a large share of its time.
/// The statement itself is GRDB's cached one, so GRDB still owns its life.
struct BoundStatement {
    let statement: Statement
    private var raw: OpaquePointer { statement.sqliteStatement }
    private var index: Int32 = 0

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
    }

    /// Starts a new execution: bindings follow in parameter order.
    mutating func begin() {
        sqlite3_reset(raw)
        index = 0
    }

    mutating func bind(_ value: Int64?) {
        index += 1
        if let value { sqlite3_bind_int64(raw, index, value) } else { sqlite3_bind_null(raw, index) }
    }

    mutating func bind(_ value: Int?) { bind(value.map(Int64.init)) }
    mutating func bind(_ value: Int32?) { bind(value.map(Int64.init)) }
    mutating func bind(_ value: UInt32?) { bind(value.map(Int64.init)) }

    mutating func bind(_ value: Double?) {
        index += 1
        if let value { sqlite3_bind_double(raw, index, value) } else { sqlite3_bind_null(raw, index) }
    }

    mutating func bind(_ value: String?) {
        index += 1
        guard var value else { sqlite3_bind_null(raw, index); return }
        value.withUTF8 { p in
            _ = sqlite3_bind_text(raw, index, p.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                  Int32(p.count), Self.transient)
        }
    }

    /// Bytes as a BLOB; an empty array is an empty BLOB, not NULL.
    mutating func bind(_ value: [UInt8]?) {
        index += 1
        guard let value else { sqlite3_bind_null(raw, index); return }
        if value.isEmpty { sqlite3_bind_zeroblob(raw, index, 0); return }
        value.withUnsafeBytes { p in
            _ = sqlite3_bind_blob(raw, index, p.baseAddress, Int32(p.count), Self.transient)
        }
    }

    /// Runs the statement to its end; returns the first column of its first row, if any.
    @discardableResult
    func run(_ db: Database) throws -> Int64? {
        defer { sqlite3_reset(raw) }
        var first: Int64?
        while true {
            switch sqlite3_step(raw) {
            case SQLITE_DONE: return first
            case SQLITE_ROW:
                if first == nil, sqlite3_column_type(raw, 0) != SQLITE_NULL { first = sqlite3_column_int64(raw, 0) }
            case let code:
                let message = db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
            }
        }
    }

    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
