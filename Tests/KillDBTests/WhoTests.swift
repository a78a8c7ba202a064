import Foundation
import GRDB
import KillDB
import Output
import Queries
import Store
import Testing

/// A database built by the real ingester from `Tests/Fixtures/who/pid-reuse.log`: pid 4242
/// was a java process killed by cleanup.sh at 10:00 UTC, then reused by nginx, which got a
/// SIGTERM and later a SIGKILL from systemd, a refused SIGKILL from an unprivileged kill, and
/// a liveness probe; a hostile sender killed pid 8000.
enum WhoFixture {
    static func database(_ dir: URL) throws -> SignalStore {
        let db = dir.appendingPathComponent("who.sqlite").path
        _ = try Ingest.run(paths: [TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path],
                           databasePath: db)
        // Golden outputs must not depend on when the test ran.
        let queue = try DatabaseQueue(path: db)
        try queue.write { try $0.execute(sql: "UPDATE ingest_runs SET finished_at = 1795605000, started_at = 1795605000") }
        return try SignalStore.openReadOnly(path: db)
    }

    static let context = WhoReport.Context(
        question: "SIGKILL sent to pid 4242", timeZone: TimeZone(identifier: "UTC")!,
        users: { uid in [0: "root", 33: "www-data", 998: "tomcat", 1000: "alice", 1001: "bob"][uid] })
}

enum Golden {
    /// Compares `actual` with `Tests/Fixtures/golden/NAME`; KILLDB_UPDATE_GOLDENS=1 rewrites it.
    static func check(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = TestLogs.testsDirectory.appendingPathComponent("Fixtures/golden/\(name)")
        if ProcessInfo.processInfo.environment["KILLDB_UPDATE_GOLDENS"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == expected, "output differs from \(name); KILLDB_UPDATE_GOLDENS=1 rewrites it", sourceLocation: sourceLocation)
    }
}

@Suite("who: the answer to 'who killed pid X'")
struct WhoTests {
    @Test("the newest kill of the pid comes first, with its sender; an earlier process with the same pid is marked")
    func pidReuse() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetPid = 4242
            let answer = try Who.ask(q, in: store)
            #expect(answer.rows.map(\.eventID) == ["1795604400.300:505", "1795600800.100:501"])
            #expect(answer.rows.first?.senderComm == Array("systemd".utf8))
            #expect(answer.hiddenFailed == 1)
            try Golden.check(WhoReport.text(answer, WhoFixture.context), "who-pid-4242.txt")
        }
    }

    @Test("--include-failed shows the refused attempt with its errno; --signal all adds the SIGTERM")
    func failedAndOtherSignals() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetPid = 4242
            q.includeFailed = true
            q.signals = .all
            let answer = try Who.ask(q, in: store)
            #expect(answer.rows.map(\.signalName) == ["SIGKILL", "SIGKILL", "SIGTERM", "SIGKILL"])
            #expect(answer.rows[1].errno == "EPERM")
            #expect(answer.hiddenProbes == 1)
            q.includeProbes = true
            #expect(try Who.ask(q, in: store).rows.contains { $0.probe })
        }
    }

    @Test("--before picks the process that had the pid at that time")
    func before() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetPid = 4242
            q.before = 1795601000
            let answer = try Who.ask(q, in: store)
            #expect(answer.rows.count == 1)
            #expect(answer.rows.first?.targetComm == Array("java".utf8))
            #expect(answer.rows.first?.senderCmdline == Array("/bin/bash /opt/ops/cleanup.sh --force".utf8))
        }
    }

    @Test("by name, with a glob")
    func byName() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetComm = "ngi*"
            #expect(try Who.ask(q, in: store).rows.map(\.eventID) == ["1795604400.300:505"])
            q.targetComm = "java"
            #expect(try Who.ask(q, in: store).rows.map(\.eventID) == ["1795600800.100:501"])
        }
    }

    @Test("nothing found says so, and what the database covers")
    func nothingFound() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetPid = 1234
            let answer = try Who.ask(q, in: store)
            #expect(answer.rows.isEmpty)
            let ctx = WhoReport.Context(question: "SIGKILL sent to pid 1234", timeZone: TimeZone(identifier: "UTC")!, users: { _ in nil })
            try Golden.check(WhoReport.text(answer, ctx), "who-nothing-found.txt")
        }
    }

    @Test("a hostile sender cannot move the cursor or fake a line, in any format")
    func hostileNames() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetPid = 8000
            let answer = try Who.ask(q, in: store)
            let text = WhoReport.text(answer, WhoFixture.context)
            let json = WhoReport.json(answer, question: "SIGKILL sent to pid 8000")
            let csv = CSV.render(columns: SignalRow.outputColumns, rows: answer.rows.map(\.cells), escaped: false)
            let csvOnTerminal = CSV.render(columns: SignalRow.outputColumns, rows: answer.rows.map(\.cells), escaped: true)
            let table = Table.render(columns: SignalRow.outputColumns, rows: answer.rows.map(\.cells))
            // CSV is for programs: the stored values, exactly. Only on a terminal is it escaped.
            for output in [text, json, csvOnTerminal, table] {
                #expect(!output.utf8.contains(0x1b), "raw ESC in output")
                #expect(!output.utf8.contains(0x07), "raw BEL in output")
                #expect(!output.unicodeScalars.contains("\u{202E}"), "raw bidi override in output")
            }
            #expect(text.contains("evil\\e[2J\\nroot ok"))
            #expect(!text.contains("\nroot ok"), "a newline in a name must not start a line")
            try Golden.check(text, "who-hostile.txt")
            try Golden.check(json + "\n", "who-hostile.json")
            try Golden.check(csv, "who-hostile.csv")
            #expect(csv.contains("\"evil\u{1b}[2J\nroot ok\""), "the stored name, quoted for its newline")
            #expect(csvOnTerminal.contains(",evil\\e[2J\\nroot ok,"))
            // JSON stays valid and carries the name as JSON escapes.
            let parsed = TestLogs.whoAnswers(json)
            #expect(parsed.first?["sender_comm"] as? String == "evil\u{1b}[2J\nroot ok")
        }
    }

    @Test("the table of earlier candidates escapes a hostile name once, as the headline does")
    func hostileNamesInTable() throws {
        try TestLogs.withScratch { dir in
            let name = AuditLine.hex(Array("evil\u{1b}[2J\\x".utf8))
            var log = ""
            for (stamp, serial) in [("1800000000.100", 10), ("1800000005.999", 12)] {
                log += "type=SYSCALL msg=audit(\(stamp):\(serial)): arch=c000003e syscall=62 success=yes exit=0 a0=1092 a1=9 a2=0 a3=0 items=0 ppid=1 pid=77 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm=\(name) exe=\"/tmp/x\" key=\"k\"\n"
                log += "type=OBJ_PID msg=audit(\(stamp):\(serial)): opid=4242 oauid=-1 ouid=0 oses=-1 ocomm=\(name)\n"
            }
            let logURL = dir.appendingPathComponent("audit.log")
            try TestLogs.write(log, to: logURL)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([logURL], db: db)
            var q = SignalQuery()
            q.targetPid = 4242
            let text = WhoReport.text(try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path)), WhoFixture.context)
            let escaped = "pid 4242 (evil\\e[2J\\\\x)"
            let lines = text.split(separator: "\n").filter { $0.contains("pid 4242 (") }
            #expect(lines.count == 2, "\(text)")  // the headline and the table's row
            #expect(lines.allSatisfy { $0.contains(escaped) }, "\(text)")
        }
    }

    @Test("signal lists: names with or without SIG, numbers, several, all")
    func signalSets() throws {
        #expect(try SignalSet.parse("KILL") == .only([9]))
        #expect(try SignalSet.parse("sigterm,9") == .only([15, 9]))
        #expect(try SignalSet.parse("RTMIN+2") == .only([36]))
        #expect(try SignalSet.parse("all") == .all)
        #expect(throws: QueryError.self) { try SignalSet.parse("KILLL") }
    }
}
