import Foundation
import GRDB
import KillDB
import Testing

/// Damage confined to the damaged line: a junk line with a plausible-looking stamp inside
/// it, a stamp from the far future, and CRLF line ends cost at most their own line.
@Suite("damaged input costs only the damaged line")
struct DamagedInputTests {
    /// A kill whose records arrive one line at a time, with a junk line between the SYSCALL
    /// and its OBJ_PID, and a hole in the serials after it.
    func log(junk: String) -> String {
        var s = AuditLine.killEvent("1700004000.000:100", target: 5000, comm: "before")
        s += AuditLine.killSyscall("1700004000.100:101", target: 5001, signal: 9)
        s += junk + "\n"
        s += AuditLine.objPID("1700004000.100:101", pid: 5001, comm: "victim")
        s += AuditLine.proctitle("1700004000.100:101", argv: ["kill", "-9", "5001"])
        // Serials 102 to 104 never reach the log.
        s += AuditLine.noise("1700004001.000:105")
        s += AuditLine.noise("1700004020.000:106")
        return s
    }

    static let junkLines: [(String, String)] = [
        ("a damaged line with a record's header deep inside it",
         "Nov 12 03:04:05 host garbage garbage " + String(repeating: "x", count: 200)
            + " type=SYSCALL msg=audit(99999999999.000:1): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9"),
        ("a well-formed record stamped in the year 5138",
         "type=USER_ACCT msg=audit(99999999999.000:1): pid=1 uid=0 auid=0 ses=1 msg='op=x res=success'"),
    ]

    @Test("a junk line is skipped and neither strips the next kill nor moves the clock or coverage",
          arguments: junkLines)
    func junkLineHarmsOnlyItself(_ name: String, _ junk: String) throws {
        try TestLogs.withScratch { dir in
            let file = dir.appendingPathComponent("audit.log")
            try TestLogs.write(log(junk: junk), to: file)
            try TestLogs.age(file)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([file], db: db)
            #expect(summary.skippedTotal == 1, "\(name): \(summary.skipped.map(\.reason))")
            let victim = try TestLogs.signals(db, where: "target_pid = 5001")
            #expect(victim.count == 1)
            #expect(victim.first?["target_comm"] as String? == "victim", "\(name)")
            #expect(victim.first?["sender_cmdline"] as String? == "kill -9 5001", "\(name)")
            let last = try #require(summary.files.first?.coverage.lastEventTime)
            #expect(last < 1_700_010_000, "\(name): coverage stretched to \(last)")
            let coverage = try TestLogs.query(db, "SELECT MAX(last_event_time) AS t FROM coverage").first?["t"] as Double?
            #expect((coverage ?? 0) < 1_700_010_000, "\(name): coverage view reaches \(coverage ?? 0)")
            #expect(summary.serialGaps.map(\.missing) == [3], "\(name): \(summary.serialGaps)")
        }
    }

    @Test("CRLF line ends: the CR is not part of the record, and hex fields are decoded")
    func crlfLogsAreReadAsTheirLines() throws {
        try TestLogs.withScratch { dir in
            let file = dir.appendingPathComponent("audit.log")
            let text = AuditLine.killSyscall("1700004100.000:200", target: 6001, signal: 9)
                + AuditLine.objPID("1700004100.000:200", pid: 6001, comm: "victim")
                + AuditLine.proctitle("1700004100.000:200", argv: ["kill", "-9", "6001"])
            try TestLogs.write(text.replacingOccurrences(of: "\n", with: "\r\n"), to: file)
            try TestLogs.age(file)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([file], db: db)
            #expect(summary.skippedTotal == 0)
            let rows = try TestLogs.signals(db)
            #expect(rows.count == 1)
            #expect(rows.first?["target_comm"] as String? == "victim")
            #expect(rows.first?["sender_comm"] as String? == "bash")
            #expect(rows.first?["sender_exe"] as String? == "/usr/bin/bash")
            #expect(rows.first?["sender_cmdline"] as String? == "kill -9 6001")
        }
    }

    @Test("a 10 MB last line without a newline is counted once and passed, not read again every run")
    func overlongLastLine() throws {
        try TestLogs.withScratch { dir in
            let file = dir.appendingPathComponent("audit.log")
            try TestLogs.write(AuditLine.killEvent("1700004200.000:300", target: 6101)
                                + String(repeating: "A", count: 10 << 20), to: file)
            try TestLogs.age(file)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let first = try TestLogs.ingest([file], db: db)
            #expect(first.skippedTotal == 1)
            let second = try TestLogs.ingest([file], db: db)
            #expect(second.skippedTotal == 0)
            #expect(second.totals.bytes == 0, "read again: \(second.totals.bytes) bytes")
            // The line ends at last, and the log goes on: its rest is not counted again.
            try TestLogs.append("AAAA\n" + AuditLine.killEvent("1700004201.000:301", target: 6102), to: file)
            try TestLogs.age(file)
            let third = try TestLogs.ingest([file], db: db)
            #expect(third.skippedTotal == 0)
            #expect(third.totals.newEvents == 1)
            #expect(try TestLogs.eventCount(db) == 2)
        }
    }
}
