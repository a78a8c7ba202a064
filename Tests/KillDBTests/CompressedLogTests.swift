import AuditLog
import Foundation
import GRDB
import KillDB
import Testing

@Suite("rotated logs compressed by logrotate")
struct CompressedLogTests {
    @Test("a directory is read oldest first: dated copies, audit.log.N down to .1 (compressed or not), then audit.log")
    func rotationOrder() {
        let names = ["audit.log", "audit.log.1", "audit.log.2.gz", "audit.log.10.xz", "audit.log.3",
                     "audit.log-20261101.gz", "audit.log-20261020", "other.log", "audit.log.1.gz", "audit.log.x"]
        #expect(LogFileSet.rotationOrder(names) == [
            "audit.log-20261020", "audit.log-20261101.gz", "audit.log.10.xz", "audit.log.3", "audit.log.2.gz",
            "audit.log.1.gz", "audit.log.1", "audit.log",
        ])
    }

    @Test("gzip and xz files are read through the decompressor, once; a damaged one is reported, not fatal",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/xz") || FileManager.default.isExecutableFile(atPath: "/bin/xz")))
    func compressed() throws {
        try TestLogs.withScratch { dir in
            let logs = dir.appendingPathComponent("logs")
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            let fixture = TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log")
            try FileManager.default.copyItem(at: fixture, to: logs.appendingPathComponent("audit.log.2"))
            try FileManager.default.copyItem(at: URL(fileURLWithPath: TestLogs.fixture("three-kills.log")),
                                             to: logs.appendingPathComponent("audit.log.1"))
            try FileManager.default.copyItem(at: URL(fileURLWithPath: TestLogs.fixture("eperm.log")),
                                             to: logs.appendingPathComponent("audit.log"))
            try run("/bin/gzip", [logs.appendingPathComponent("audit.log.2").path])
            try run("/usr/bin/xz", [logs.appendingPathComponent("audit.log.1").path])
            let db = dir.appendingPathComponent("k.sqlite").path
            let first = try Ingest.run(paths: [logs.path], databasePath: db)
            #expect(first.files.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["audit.log.2.gz", "audit.log.1.xz", "audit.log"])
            #expect(first.totals.newEvents == 6 + 3 + 1)
            let again = try Ingest.run(paths: [logs.path], databasePath: db)
            #expect(again.totals.newEvents == 0)
            #expect(again.totals.bytes == 0, "a compressed file read to the end is not read again")

            try Data("not gzip at all".utf8).write(to: logs.appendingPathComponent("audit.log.3.gz"))
            let damaged = try Ingest.run(paths: [logs.path], databasePath: db)
            #expect(damaged.skipped.contains { $0.path.hasSuffix("audit.log.3.gz") && $0.reason.contains("damaged") })
            let count = try DatabaseQueue(path: db).read { try Int.fetchOne($0, sql: "SELECT COUNT(DISTINCT event_id) FROM signals") }
            #expect(count == 10)
        }
    }

    private func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: tool) ? tool : "/bin/" + URL(fileURLWithPath: tool).lastPathComponent)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }
}
