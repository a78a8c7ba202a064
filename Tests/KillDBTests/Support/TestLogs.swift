import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Shared helpers for the fixture-based ingest tests: where fixtures and the public corpus
/// live, private scratch directories, running an ingest and reading the `signals` view back.
enum TestLogs {
    // MARK: locations

    /// `Tests/`, found from this source file (`Tests/KillDBTests/Support/TestLogs.swift`).
    static let testsDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.lastPathComponent != "Tests" && url.path != "/" { url.deleteLastPathComponent() }
        return url
    }()

    /// The hand-written fixtures, `Tests/Fixtures/logs/`.
    static let fixtures = testsDirectory.appendingPathComponent("Fixtures/logs")

    static func fixture(_ name: String) -> String {
        fixtures.appendingPathComponent(name).path
    }

    /// The directory holding Package.swift.
    static let repoRoot: URL = {
        var url = testsDirectory
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return testsDirectory.deletingLastPathComponent()
    }()

    /// The shared public corpus: $KILLDB_CORPUS, else `../shared/corpus/public` beside the
    /// clone (a worktree sits one level deeper: set KILLDB_CORPUS there); nil when absent.
    static let corpus: URL? = {
        let url = ProcessInfo.processInfo.environment["KILLDB_CORPUS"].map { URL(fileURLWithPath: $0) }
            ?? repoRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/public").standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else { return nil }
        return url
    }()

    /// For `.enabled(if:)`: says loudly why the corpus tests are skipped.
    static let corpusAvailable: Bool = {
        if corpus != nil { return true }
        let expected = ProcessInfo.processInfo.environment["KILLDB_CORPUS"]
            ?? repoRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/public").standardizedFileURL.path
        FileHandle.standardError.write(Data("\n*** SKIPPING public-corpus tests: no corpus at \(expected) ***\n\n".utf8))
        return false
    }()

    // MARK: scratch space

    /// Runs `body` with a fresh private directory, removed afterwards.
    static func withScratch<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("killdb-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    /// Writes `bytes` to `url` (replacing the file's content but keeping its inode when it exists).
    static func write(_ bytes: [UInt8], to url: URL) throws {
        try Data(bytes).write(to: url)
    }

    static func write(_ text: String, to url: URL) throws {
        try write(Array(text.utf8), to: url)
    }

    /// Appends to `url` through O_APPEND, as auditd does.
    static func append(_ text: String, to url: URL) throws {
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Copies a fixture into `dir` (under `name`, default the fixture's own name).
    @discardableResult
    static func copyFixture(_ fixture: String, to dir: URL, as name: String? = nil) throws -> URL {
        let dest = dir.appendingPathComponent(name ?? (fixture as NSString).lastPathComponent)
        try FileManager.default.copyItem(atPath: Self.fixture(fixture), toPath: dest.path)
        return dest
    }

    /// Makes a file look like nobody has written to it for an hour.
    static func age(_ url: URL, seconds: Double = 3600) throws {
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-seconds)],
                                              ofItemAtPath: url.path)
    }

    static func size(_ url: URL) throws -> Int64 {
        let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
        return (attrs[.size] as? NSNumber)?.int64Value ?? -1
    }

    // MARK: ingest and query

    static func ingest(_ paths: [String], db: URL, options: IngestOptions = IngestOptions()) throws -> IngestSummary {
        try Ingest.run(paths: paths, databasePath: db.path, options: options)
    }

    static func ingest(_ paths: [URL], db: URL, options: IngestOptions = IngestOptions()) throws -> IngestSummary {
        try ingest(paths.map(\.path), db: db, options: options)
    }

    /// Rows of the `signals` view, ordered by event then target pid.
    static func signals(_ db: URL, where condition: String = "1", arguments: StatementArguments = []) throws -> [Row] {
        let queue = try DatabaseQueue(path: db.path)
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM signals WHERE \(condition) ORDER BY event_time, serial, target_pid",
                             arguments: arguments)
        }
    }

    /// Any query, for tables and views other than `signals`.
    static func query(_ db: URL, _ sql: String, arguments: StatementArguments = []) throws -> [Row] {
        let queue = try DatabaseQueue(path: db.path)
        return try queue.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
    }

    /// Number of distinct signal events stored.
    static func eventCount(_ db: URL) throws -> Int {
        try query(db, "SELECT COUNT(DISTINCT event_id) AS n FROM signals").first?["n"] ?? -1
    }

    /// Number of rows (event × target) in the `signals` view.
    static func rowCount(_ db: URL) throws -> Int {
        try query(db, "SELECT COUNT(*) AS n FROM signals").first?["n"] ?? -1
    }

    /// A compact, order-independent picture of everything in the `signals` view, to compare
    /// two databases or one database before and after a run.
    static func snapshot(_ db: URL) throws -> [String] {
        try query(db, "SELECT * FROM signals").map { row in
            row.columnNames.filter { $0 != "event_rowid" }.map { "\($0)=\(row[$0] as DatabaseValue)" }.joined(separator: " ")
        }.sorted()
    }
}

// MARK: building log lines

/// Builds audit log lines for tests that need to write or grow logs on the fly.
enum AuditLine {
    /// `kill(target, signal)` from `bash` on x86_64, as the kernel logs it.
    static func killSyscall(_ stamp: String, target: Int64, signal: Int, pid: Int = 4242,
                            success: Bool = true, exit: Int = 0, node: String? = nil) -> String {
        let prefix = node.map { "node=\($0) " } ?? ""
        let a0 = String(UInt64(bitPattern: target), radix: 16)
        let a1 = String(signal, radix: 16)
        return "\(prefix)type=SYSCALL msg=audit(\(stamp)): arch=c000003e syscall=62 success=\(success ? "yes" : "no") exit=\(exit) a0=\(a0) a1=\(a1) a2=0 a3=7f4c8bfadac0 items=0 ppid=4000 pid=\(pid) auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"bash\" exe=\"/usr/bin/bash\" key=\"killdbtest\"\n"
    }

    static func objPID(_ stamp: String, pid: Int, comm: String = "sleep", node: String? = nil) -> String {
        let prefix = node.map { "node=\($0) " } ?? ""
        return "\(prefix)type=OBJ_PID msg=audit(\(stamp)): opid=\(pid) oauid=1000 ouid=1000 oses=3 ocomm=\"\(comm)\"\n"
    }

    /// PROCTITLE for `argv`, hex-encoded with NUL separators as the kernel logs it.
    static func proctitle(_ stamp: String, argv: [String], node: String? = nil) -> String {
        let prefix = node.map { "node=\($0) " } ?? ""
        let bytes = Array(argv.joined(separator: "\u{0}").utf8)
        return "\(prefix)type=PROCTITLE msg=audit(\(stamp)): proctitle=\(hex(bytes))\n"
    }

    /// A complete kill event: SYSCALL, OBJ_PID, PROCTITLE.
    static func killEvent(_ stamp: String, target: Int, signal: Int = 9, comm: String = "sleep") -> String {
        killSyscall(stamp, target: Int64(target), signal: signal)
            + objPID(stamp, pid: target, comm: comm)
            + proctitle(stamp, argv: ["kill", "-\(signal)", "\(target)"])
    }

    /// A record that is not part of any signal event.
    static func noise(_ stamp: String) -> String {
        "type=USER_ACCT msg=audit(\(stamp)): pid=900 uid=0 auid=1000 ses=3 msg='op=PAM:accounting grantors=pam_permit acct=\"alice\" exe=\"/usr/bin/sudo\" hostname=? addr=? terminal=/dev/pts/0 res=success'\n"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02X", $0) }.joined()
    }
}

extension TestLogs {
    /// The `answers` of `who --format json` (an object: answers beside the coverage).
    static func whoAnswers(_ json: String) -> [[String: Any]] {
        let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
        return object?["answers"] as? [[String: Any]] ?? []
    }
}
