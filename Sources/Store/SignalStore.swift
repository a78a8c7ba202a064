import AuditDecoding
import AuditLog
import Foundation
import GRDB

/// Errors from the database, worded for the operator.
public enum StoreError: Error, CustomStringConvertible {
    case cannotCreateDirectory(path: String, reason: String)
    case cannotOpen(path: String, reason: String)
    /// A file or directory root must not write through (a link, another user's, open to all).
    case unsafeLocation(path: String, reason: String)
    case notFound(path: String)
    /// This user may not read the database; `detail` says who may.
    case permissionDenied(path: String, detail: String)
    case newerSchema(path: String)
    case olderSchema(path: String)
    case busy(path: String)
    /// Tables, but none of killdb's migrations: another application's database.
    case foreign(path: String)
    /// SQLite reports the file damaged (SQLITE_CORRUPT, SQLITE_NOTADB, or quick_check).
    case corrupt(path: String, detail: String)
    case sqlite(String)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let path, let reason):
            return "cannot create the database directory \(path): \(reason). Run as root for the default location, or choose another with --db PATH or KILLDB_DB."
        case .cannotOpen(let path, let reason):
            return "cannot open the database \(path): \(reason)"
        case .unsafeLocation(let path, let reason):
            return "refusing to write \(path): \(reason)."
        case .permissionDenied(_, let detail):
            let user = geteuid() == 0 ? "" : "; this is user \(ReadPermission.userName(geteuid()))"
            return "permission denied: \(detail)\(user). Run the command with sudo, or point --db (or KILLDB_DB) at a copy this user may read."
        case .notFound(let path):
            return "no database at \(path). Run `killdb ingest` first, or point --db (or KILLDB_DB) at an existing database."
        case .newerSchema(let path):
            return "the database \(path) was written by a newer killdb; upgrade killdb to read it."
        case .olderSchema(let path):
            return "the database \(path) was written by an older killdb and needs its schema brought up to date: run `killdb ingest` (or any query) once as a user who may write it."
        case .busy(let path):
            return "the database \(path) stayed locked by another process; try again."
        case .foreign(let path):
            return "\(path) is not a killdb database: it holds tables of another application's and none of killdb's migrations. It was left untouched; give killdb a path of its own with --db PATH or KILLDB_DB."
        case .corrupt(let path, let detail):
            return "the database \(path) is damaged (\(detail)); stopped before writing to it or answering from it. Keep a copy for inspection, then recover what SQLite can (sqlite3 \(path) .recover > dump.sql) or move it aside and ingest the logs again into a new database."
        case .sqlite(let message):
            return "database error: \(message)"
        }
    }
}

/// The killdb database: signal events, checkpoints and coverage, in one SQLite file.
///
/// It runs in WAL mode, so `killdb sql` and `killdb who` can read while an ingest writes;
/// every write goes through `transaction`, which is where a checkpoint and the events it
/// covers are committed together.
public final class SignalStore {
    public let path: String
    let queue: DatabaseQueue
    /// Set when the database had to be opened immutable, saying why and what is not seen.
    public let note: String?
    public var immutable: Bool { note != nil }
    private var interned: [InternKey: Int64] = [:]
    private var internedNames: [String: Int64] = [:]

    /// The default location, used when neither --db nor KILLDB_DB is given.
    public static let defaultPath = "/var/lib/killdb/killdb.sqlite"

    /// Opens (creating if needed, mode 0600) the database for writing, and brings its
    /// schema up to date. A transaction waits up to `busyTimeout` seconds for another writer.
    public static func openForWriting(path: String, busyTimeout: Double = 10) throws(StoreError) -> SignalStore {
        try DatabaseDirectory.prepare(forFile: path)
        // Create the file ourselves so it is private from the first byte: it holds every
        // command line that sent a signal. SQLite gives its -wal and -shm files the same mode.
        // Never through a link, and the same file must still be there once SQLite has it.
        let fd = try PrivateFile.open(path)
        close(fd)
        let before = try PrivateFile.identity(path)
        for suffix in ["-wal", "-shm", "-journal"] { _ = try PrivateFile.identity(path + suffix) }
        let check = needsQuickCheck(path)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            // Before anything (WAL mode, the schema) is written: on this connection, not one
            // of its own, since each connection parses the whole schema first (of
            // the CPU of an ingest that finds nothing new, about a tenth).
            try refuseForeign(db, path: path)
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The working set of a large ingest (the indexes on names and pids, the newest
            // pages of each; a 100,000-target kill's 9 MB of rows, which at SQLite's default
            // 2 MiB spilled into the WAL 190,000 times) outgrows the default at once; bounded.
            try db.execute(sql: "PRAGMA cache_size = -\(writerCacheKiB)")
            // Statement journals (the pages a multi-row INSERT changes, so it can be undone
            // alone): in memory, a few hundred KiB each, instead of a temporary file written
            // page by page once the first one outgrows 64 KiB. Merge keeps its tables on disk.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
            throw .corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
        } catch {
            throw .cannotOpen(path: path, reason: describe(error))
        }
        guard try PrivateFile.identity(path) == before else {
            throw .unsafeLocation(path: path, reason: "it was replaced while it was being opened")
        }
        // Two processes opening a new database at once (the plugin and an ingest): the
        // second's migration fails once the first has created the tables, and on a second
        // look finds them applied.
        var attempt = 0
        while true {
            do {
                try migrate(queue, path: path)
                break
            } catch .sqlite(let message) where attempt < 3 && message.contains("already exists") {
                attempt += 1
                usleep(50_000)
            }
        }
        let store = SignalStore(path: path, queue: queue)
        if check { try store.quickCheck() }
        return store
    }

    /// The writer's page cache, in KiB.
    static let writerCacheKiB = 16 << 10

    /// Whether a writer should run quick_check before adding to the file: it reads every
    /// page (about 1 s per million events), so it runs where damage is likely and cheap to
    /// look for: when the last writer did not close the database (a write-ahead log is left,
    /// or another connection is open), and on a database small enough to check in a few
    /// tens of milliseconds. A database closed cleanly has been checkpointed whole; damage
    /// from outside (a disk, another program) is still reported as SQLite reads the pages a
    /// write touches, and by `killdb doctor`, which always checks.
    static func needsQuickCheck(_ path: String) -> Bool {
        var wal = stat(), db = stat()
        if stat(path + "-wal", &wal) == 0, wal.st_size > 0 { return true }
        return stat(path, &db) != 0 || db.st_size <= quickCheckAlwaysBytes
    }

    /// Up to this size quick_check costs a few ms. At 8 MiB it was 15-20 ms of CPU, half of
    /// an ingest that finds nothing new, on the 5 MB a 268 MB mixed log gives since execve
    /// events are kept: more than the 2% of a full ingest a re-run may cost.
    static let quickCheckAlwaysBytes: Int = 1 << 20

    /// Refuses a database that holds tables but none of killdb's migrations, before
    /// anything (WAL mode, the schema) is written to it. On the writer's own read-write
    /// connection: a writer killed mid-commit leaves a WAL that only such a connection may
    /// recover ("attempt to write a readonly database"); recovery is SQLite's own repair,
    /// and this only reads.
    static func refuseForeign(_ db: Database, path: String) throws {
        let tables = try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM sqlite_master
            WHERE name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'
            """) ?? 0
        guard tables > 0 else { return }
        let migrations = try db.tableExists("grdb_migrations")
            ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").filter(Set(embeddedMigrations.map(\.name)).contains).count
            : 0
        if migrations == 0 { throw StoreError.foreign(path: path) }
    }

    /// PRAGMA quick_check: about 0.2 s for 200,000 events (52 MB), linear in the file's
    /// size; run before a writer adds to a file SQLite may already find damaged.
    public func quickCheck() throws(StoreError) {
        let result: [String]
        do {
            result = try queue.read { try String.fetchAll($0, sql: "PRAGMA quick_check") }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
            throw .corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
        } catch {
            throw .sqlite(describe(error))
        }
        guard result == ["ok"] else {
            throw .corrupt(path: path, detail: "quick_check: " + result.prefix(3).joined(separator: "; "))
        }
    }

    /// Opens an existing database read-only: the connection itself refuses writes.
    /// With `upgrading`, a database an older killdb wrote is brought up to date first, when
    /// this user may write it, so a query does not fail for a table the upgrade adds. Without
    /// it (merge sources, doctor) nothing is ever written.
    public static func openReadOnly(path: String, upgrading: Bool = false) throws(StoreError) -> SignalStore {
        if let problem = ReadPermission.problem(path) { throw problem }
        guard FileManager.default.fileExists(atPath: path) else { throw .notFound(path: path) }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        var note: String?
        do {
            var queue: DatabaseQueue
            do {
                queue = try DatabaseQueue(path: path, configuration: config)
                _ = try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM sqlite_master") }
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CANTOPEN || e.resultCode == .SQLITE_READONLY {
                guard let why = ImmutableDatabase.whyNotShared(path) else { throw e }
                queue = try DatabaseQueue(path: ImmutableDatabase.uri(path), configuration: config)
                note = ImmutableDatabase.note(path, why: why)
            }
            let migrator = makeMigrator()
            if try queue.read({ try migrator.hasBeenSuperseded($0) }) { throw StoreError.newerSchema(path: path) }
            let applied = try queue.read { try migrator.appliedIdentifiers($0) }
            if applied.isEmpty, try queue.read({ try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'") ?? 0 }) > 0 {
                throw StoreError.foreign(path: path)
            }
            if upgrading, !applied.isEmpty, try !queue.read({ try migrator.hasCompletedMigrations($0) }) {
                guard note == nil, access(path, W_OK) == 0 else { throw StoreError.olderSchema(path: path) }
                _ = try openForWriting(path: path)
                queue = try DatabaseQueue(path: path, configuration: config)
            }
            return SignalStore(path: path, queue: queue, note: note)
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
            throw .corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
        } catch {
            throw .cannotOpen(path: path, reason: describe(error))
        }
    }

    private init(path: String, queue: DatabaseQueue, note: String? = nil) {
        self.path = path
        self.queue = queue
        self.note = note
    }

    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in embeddedMigrations {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        return migrator
    }

    private static func migrate(_ queue: DatabaseQueue, path: String) throws(StoreError) {
        let migrator = makeMigrator()
        do {
            if try queue.read({ try migrator.hasBeenSuperseded($0) }) { throw StoreError.newerSchema(path: path) }
            let pending = try queue.read { try !migrator.hasCompletedMigrations($0) }
            try migrator.migrate(queue)
            // A migration that copied a table (009 copies events) leaves the old pages free:
            // a year of events upgraded grew from 268 MB to 399 MB, 35% of it free. Once, and
            // best effort (a reader holding the file makes it wait for the next upgrade):
            // VACUUM took 6.7 s for that million events and gave 243 MB.
            if pending {
                _ = try? queue.writeWithoutTransaction { db in
                    let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                    let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                    if free > 1024 && free * 4 > pages { try db.execute(sql: "VACUUM") }
                }
            }
            // A migration (and VACUUM) may rewrite much of the file. Until a checkpoint moves
            // that back into it, every reader reads the whole write-ahead log first (50 ms for
            // 120 MB). Best effort: a reader holding an old snapshot only delays it to the next
            // checkpoint.
            if pending { _ = try? queue.writeWithoutTransaction { try $0.checkpoint(.truncate) } }
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
            throw .corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
        } catch {
            throw .sqlite(describe(error))
        }
    }

    /// The names of the migrations applied, oldest first.
    public func appliedMigrations() throws(StoreError) -> [String] {
        try read { db in try Self.makeMigrator().appliedIdentifiers(db).sorted() }
    }

    /// Runs `body` in one write transaction. `checkingForeignKeys: false` is for a writer
    /// whose every reference is a row it has just found or inserted in the same transaction
    /// (the tracer's: checking the 15 references of each of its records cost a fifth of its
    /// writer's time at 100,000 records a second); SQLite applies the pragma only outside a
    /// transaction, so it is turned off around this one and back on after.
    public func transaction<T>(checkingForeignKeys: Bool = true, _ body: (StoreTransaction) throws -> T) throws(StoreError) -> T {
        do {
            if checkingForeignKeys {
                return try queue.write { db in try body(StoreTransaction(db: db, store: self)) }
            }
            return try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
                var result: T?
                try db.inTransaction {
                    result = try body(StoreTransaction(db: db, store: self))
                    return .commit
                }
                return result!
            }
        } catch {
            // Ids interned in a rolled-back transaction are not in the file (a busy plugin
            // retries the same batch).
            interned.removeAll()
            internedNames.removeAll()
            if let e = error as? StoreError { throw e }
            if let e = error as? DatabaseError, e.resultCode == .SQLITE_BUSY { throw .busy(path: path) }
            if let e = error as? DatabaseError, e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
                throw .corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
            }
            throw .sqlite(describe(error))
        }
    }

    /// Runs `body` on a read-only view of the database.
    public func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.read(body)
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB {
            throw .corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
        } catch {
            throw .sqlite(describe(error))
        }
    }

    /// Like `read`, but lets database errors through as they are (for ad hoc SQL, whose
    /// errors are the user's to see).
    public func readRaw<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.read(body)
    }

    /// The id of `bytes` in `strings`, adding the row when new. One statement for a new
    /// string (the insert reports whether it added the row), two for one stored earlier
    /// and no longer remembered here.
    func intern(_ bytes: [UInt8], _ db: Database) throws -> Int64 {
        if let id = interned[InternKey(bytes)] { return id }
        var insert = try BoundStatement(db, "INSERT OR IGNORE INTO strings(value) VALUES (?)")
        insert.begin()
        insert.bind(bytes)
        try insert.run(db)
        let id: Int64
        if db.changesCount > 0 {
            id = db.lastInsertedRowID
        } else {
            var select = try BoundStatement(db, "SELECT id FROM strings WHERE value = ?")
            select.begin()
            select.bind(bytes)
            guard let found = try select.run(db) else { throw StoreError.sqlite("an interned string vanished") }
            id = found
        }
        // Bounded: a command line of its own per event would otherwise fill it with strings
        // never asked for again (names, executables and hosts repeat, and come back at once).
        if interned.count >= 16_384 { interned.removeAll(keepingCapacity: true) }
        interned[InternKey(bytes)] = id
        return id
    }

    /// `intern` for the names killdb itself writes (hosts, arches, syscalls, signals,
    /// errnos): looked up by the String, without making its bytes each time.
    func intern(name: String, _ db: Database) throws -> Int64 {
        if let id = internedNames[name] { return id }
        let id = try intern(Array(name.utf8), db)
        if internedNames.count >= 4096 { internedNames.removeAll(keepingCapacity: true) }
        internedNames[name] = id
        return id
    }
}

func describe(_ error: any Error) -> String {
    if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
    if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError {
        return u.localizedDescription
    }
    return "\(error)"
}

/// A string's bytes as a key of the writer's intern cache, hashed as one buffer: `[UInt8]`'s
/// own hashing feeds the hasher a byte at a time, which was most of the cache's cost for
/// command lines (a profile of an execve-heavy ingest: ~9% of the run in Hasher).
struct InternKey: Hashable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
    static func == (a: InternKey, b: InternKey) -> Bool { a.bytes == b.bytes }
}
