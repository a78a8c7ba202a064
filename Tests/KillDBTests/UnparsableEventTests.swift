import Foundation
import KillDB
import Output
import Testing

/// An event the pre-filter takes for a signal event but libauparse cannot parse is counted
/// and reported the same way whichever source it comes from.
@Suite("unparsable events: counted and reported alike for every source")
struct UnparsableEventTests {
    /// A kill(2) SYSCALL record whose body starts without the space after `):`: killdb's
    /// header parser accepts it, libauparse does not.
    static func unparsable(_ stamp: String) -> String {
        "type=SYSCALL msg=audit(\(stamp)):arch=c000003e syscall=62 success=yes exit=0 a0=3e8 a1=9 a2=0 a3=0 items=0 ppid=1 pid=4242 auid=0 uid=0 comm=\"kill\"\n"
    }

    @Test("audit log files: in the summary's count, among its skipped lines, and in its text")
    func fileIngest() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(AuditLine.killEvent("1700000000.000:1", target: 300) + Self.unparsable("1700000001.000:2"), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("k.sqlite")
            let s = try TestLogs.ingest([log], db: db)
            #expect(s.unparsableEvents == 1 && s.totals.newEvents == 1)
            #expect(s.skipped.map(\.reason) == ["record libauparse could not parse"] && s.skipped.first?.path == log.path)
            #expect(IngestReport.text(s, database: db.path, verbose: false)
                .contains("1 signal event could not be parsed by libauparse and were skipped"))
        }
    }

    @Test("a kernel log's audit records: the same count and skipped line, naming the kernel log")
    func kernelLog() throws {
        try TestLogs.withScratch { dir in
            let journal = dir.appendingPathComponent("kernel.json")
            let message = Self.unparsable("1795600000.100:880").dropLast().replacingOccurrences(of: "type=SYSCALL", with: "audit: type=1300")
                .replacingOccurrences(of: "\"", with: "\\\"")
            try TestLogs.write("""
                {"__REALTIME_TIMESTAMP":"1795600000100200","_TRANSPORT":"kernel","_HOSTNAME":"app1","MESSAGE":"\(message)"}

                """, to: journal)
            var options = IngestOptions()
            options.kernelLogs = [journal.path]
            let db = dir.appendingPathComponent("k.sqlite")
            let s = try Ingest.run(paths: [], databasePath: db.path, options: options)
            #expect(s.kernel.sources.first?.unparsableEvents == 1 && s.unparsableEvents == 1)
            #expect(s.skipped.first?.path == journal.path && s.skipped.first?.reason == "record libauparse could not parse")
            #expect(try TestLogs.eventCount(db) == 0)
        }
    }

    @Test("the plugin's stream: counted in its status, its line counted as bad")
    func plugin() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let messages = Messages()
            var options = PluginTests.options()
            options.log = { error, text in messages.add(error, text) }
            let plugin = try PluginTests.Running(db: db, options: options)
            plugin.send(PluginTests.Stream.kill(0) + Self.unparsable("1700200000.000:9") + PluginTests.Stream.eoe("1700200000.000:9"))
            let status = try plugin.finish()
            #expect(status.unparsableEvents == 1 && status.newEvents == 1)
            let runs = try TestLogs.query(db, "SELECT bad_lines FROM ingest_runs")
            #expect(runs.first?["bad_lines"] as Int64? == 1)
            #expect(messages.all.contains { $0.error && $0.text == "1 signal event could not be parsed by libauparse and was skipped" },
                    "\(messages.all)")
        }
    }

    final class Messages: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [(error: Bool, text: String)] = []
        func add(_ error: Bool, _ text: String) { lock.withLock { list.append((error, text)) } }
        var all: [(error: Bool, text: String)] { lock.withLock { list } }
    }
}
