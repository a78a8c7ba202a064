import Foundation
import GRDB
import Store

/// The result of a query as SQLite typed it.
public struct QueryResult: Sendable {
    public enum Value: Sendable, Equatable {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob([UInt8])
    }
    public var columns: [String]
    public var rows: [[Value]]
}

/// `killdb sql`: any query against the database, through a read-only connection, so a
/// write is refused by SQLite itself rather than by guessing from the SQL text.
public enum AdHocSQL {
    public static func run(_ sql: String, in store: SignalStore, limit: Int? = nil) throws -> QueryResult {
        do {
            return try store.readRaw { db in
                let statement = try db.makeStatement(sql: sql)
                let columns = statement.columnNames
                var rows: [[QueryResult.Value]] = []
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    rows.append(row.databaseValues.map { v in
                        switch v.storage {
                        case .null: return .null
                        case .int64(let i): return .integer(i)
                        case .double(let d): return .real(d)
                        case .string(let s): return .text(s)
                        case .blob(let b): return .blob([UInt8](b))
                        }
                    })
                    if let limit, rows.count >= limit { break }
                }
                return QueryResult(columns: columns, rows: rows)
            }
        } catch let e as DatabaseError {
            if e.resultCode == .SQLITE_READONLY || e.resultCode == .SQLITE_AUTH {
                throw QueryError.readOnly(e.message ?? "read-only")
            }
            throw QueryError.badSQL(e.message ?? "\(e.resultCode)")
        }
    }
}
