import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Running `killdb ingest` again and again over live, growing and rotating logs (from cron or
/// a timer): each run reads only what is new, never loses a record, never stores one twice.
@Suite("checkpoints: repeated ingests over live logs")
struct CheckpointTests {
    /// A log directory like /var/log/audit: audit.log.1 (three kills) and audit.log (two kills),
    /// last written an hour ago.
    private func makeLogDirectory(in dir: URL) throws -> URL {
        let logs = dir.appendingPathComponent("audit", isDirectory: true)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try TestLogs.copyFixture("three-kills.log", to: logs, as: "audit.log.1")
        try TestLogs.copyFixture("two-kills-later.log", to: logs, as: "audit.log")
        try TestLogs.age(logs.appendingPathComponent("audit.log.1"))
        try TestLogs.age(logs.appendingPathComponent("audit.log"))
        return logs
    }

    private func summaryFor(_ name: String, _ summary: IngestSummary) -> FileSummary? {
        summary.files.first { ($0.path as NSString).lastPathComponent == name }
    }

    @Test("a second run over the same directory reads no bytes and adds nothing")
    func secondRunReadsNothing() throws {
        try TestLogs.withScratch { dir in
            let logs = try makeLogDirectory(in: dir)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let first = try TestLogs.ingest([logs], db: db)
            #expect(first.totals.newEvents == 5)
            #expect(first.files.allSatisfy { !$0.resumed && $0.startOffset == 0 })
            let before = try TestLogs.snapshot(db)

            let second = try TestLogs.ingest([logs], db: db)
            #expect(second.files.count == 2)
            for f in second.files {
                let size = try TestLogs.size(URL(fileURLWithPath: f.path))
                #expect(f.resumed, "\(f.path) resumed from its checkpoint")
                #expect(f.startOffset == size, "\(f.path) starts at its end")
                #expect(f.endOffset == size)
            }
            #expect(second.totals.bytes == 0)
            #expect(second.totals.signalEvents == 0)
            #expect(second.totals.newEvents == 0)
            #expect(try TestLogs.snapshot(db) == before)
        }
    }

    @Test("records appended after a run are read, and only they are")
    func appendedRecordsOnly() throws {
        try TestLogs.withScratch { dir in
            let logs = try makeLogDirectory(in: dir)
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([logs], db: db)
            let current = logs.appendingPathComponent("audit.log")
            let oldSize = try TestLogs.size(current)
            try TestLogs.append(AuditLine.killEvent("1700002200.000:3201", target: 9201)
                                + AuditLine.noise("1700002200.500:3202")
                                + AuditLine.killEvent("1700002204.000:3203", target: 9202, signal: 15), to: current)
            let newSize = try TestLogs.size(current)

            let second = try TestLogs.ingest([logs], db: db)
            let f = try #require(summaryFor("audit.log", second))
            #expect(f.resumed)
            #expect(f.startOffset == oldSize)
            #expect(f.endOffset == newSize)
            #expect(second.totals.bytes == newSize - oldSize)
            #expect(second.totals.signalEvents == 2)
            #expect(second.totals.newEvents == 2)
            #expect(try TestLogs.eventCount(db) == 7)
            let added = try TestLogs.signals(db, where: "target_pid IN (9201, 9202)")
            #expect(added.map { $0["signal"] as Int64? } == [9, 15])
            #expect(added.map { $0["sender_cmdline"] as String? } == ["kill -9 9201", "kill -15 9202"])
        }
    }

    @Test("after rotation (audit.log renamed audit.log.1, a new audit.log) nothing old is read again")
    func rotation() throws {
        try TestLogs.withScratch { dir in
            let logs = try makeLogDirectory(in: dir)
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([logs], db: db)
            let before = try TestLogs.snapshot(db)
            // auditd's rotation: every file moves up one number, a fresh audit.log starts.
            let fm = FileManager.default
            try fm.moveItem(at: logs.appendingPathComponent("audit.log.1"), to: logs.appendingPathComponent("audit.log.2"))
            try fm.moveItem(at: logs.appendingPathComponent("audit.log"), to: logs.appendingPathComponent("audit.log.1"))
            let fresh = logs.appendingPathComponent("audit.log")
            try TestLogs.write(AuditLine.noise("1700002300.000:3300") + AuditLine.killEvent("1700002300.100:3301", target: 9301), to: fresh)

            let second = try TestLogs.ingest([logs], db: db)
            #expect(second.files.map { ($0.path as NSString).lastPathComponent } == ["audit.log.2", "audit.log.1", "audit.log"])
            for name in ["audit.log.2", "audit.log.1"] {
                let f = try #require(summaryFor(name, second))
                #expect(f.resumed, "\(name) recognised after its rename")
                #expect(f.startOffset == (try TestLogs.size(logs.appendingPathComponent(name))), "\(name) not re-read")
            }
            let f = try #require(summaryFor("audit.log", second))
            #expect(!f.resumed)
            #expect(f.startOffset == 0)
            #expect(second.totals.bytes == (try TestLogs.size(fresh)))
            #expect(second.totals.newEvents == 1)
            let after = try TestLogs.snapshot(db)
            #expect(after.count == before.count + 1)
            #expect(Set(before).isSubset(of: Set(after)))
        }
    }

    @Test("a log truncated and rewritten under the same name is read again from the start, without duplicates")
    func truncatedAndRewritten() throws {
        try TestLogs.withScratch { dir in
            let log = try TestLogs.copyFixture("three-kills.log", to: dir, as: "audit.log")
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let before = try TestLogs.snapshot(db)
            // Same file (same inode), shorter, with other first bytes: one old event, one new.
            // The old file's first event (its SYSCALL, OBJ_PID and PROCTITLE lines).
            let oldLines = String(decoding: FileManager.default.contents(atPath: log.path)!, as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: false).prefix(3)
            #expect(oldLines.allSatisfy { $0.contains("audit(1700002000.000:3001)") })
            let old = oldLines.joined(separator: "\n") + "\n"
            let handle = try FileHandle(forWritingTo: log)
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data((AuditLine.noise("1700002400.000:3400") + old
                                               + AuditLine.killEvent("1700002400.100:3401", target: 9401)).utf8))
            try handle.close()

            let second = try TestLogs.ingest([log], db: db)
            let f = try #require(second.files.first)
            #expect(!f.resumed)
            #expect(f.startOffset == 0)
            #expect(f.endOffset == (try TestLogs.size(log)))
            #expect(second.totals.signalEvents == 2)
            #expect(second.totals.newEvents == 1)
            let after = try TestLogs.snapshot(db)
            #expect(after.count == before.count + 1)
            #expect(Set(before).isSubset(of: Set(after)))
        }
    }

    @Test("a log replaced by a new file of the same name is read from the start, without duplicates")
    func replacedUnderSameName() throws {
        try TestLogs.withScratch { dir in
            let log = try TestLogs.copyFixture("three-kills.log", to: dir, as: "audit.log")
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let before = try TestLogs.snapshot(db)
            let original = FileManager.default.contents(atPath: log.path)!
            try FileManager.default.removeItem(at: log)
            // A new file: other first bytes, then everything the old one held, then one more event.
            try TestLogs.write(AuditLine.noise("1700001990.000:2990") + String(decoding: original, as: UTF8.self)
                               + AuditLine.killEvent("1700002010.000:3010", target: 9010), to: log)

            let second = try TestLogs.ingest([log], db: db)
            #expect(second.files.first?.startOffset == 0)
            #expect(second.files.first?.resumed == false)
            #expect(second.totals.signalEvents == 4)
            #expect(second.totals.newEvents == 1)
            let after = try TestLogs.snapshot(db)
            #expect(after.count == before.count + 1)
            #expect(Set(before).isSubset(of: Set(after)))
        }
    }

    @Test("an event whose OBJ_PID and PROCTITLE are written after a run ends up as one complete event")
    func partlyWrittenEvent() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            let db = dir.appendingPathComponent("killdb.sqlite")
            let stamp = "1700002500.000:3501"
            try TestLogs.write(AuditLine.noise("1700002499.000:3500")
                               + AuditLine.killSyscall(stamp, target: 9501, signal: 9), to: log)
            let first = try TestLogs.ingest([log], db: db)
            #expect(first.totals.signalEvents == 1)

            try TestLogs.append(AuditLine.objPID(stamp, pid: 9501, comm: "victim")
                                + AuditLine.proctitle(stamp, argv: ["kill", "-9", "9501"]), to: log)
            let second = try TestLogs.ingest([log], db: db)
            #expect(second.totals.newEvents == 0)

            let rows = try TestLogs.signals(db)
            try #require(rows.count == 1)
            #expect(rows[0]["event_id"] as String? == stamp)
            #expect(rows[0]["target_pid"] as Int64? == 9501)
            #expect(rows[0]["target_comm"] as String? == "victim")
            #expect(rows[0]["sender_cmdline"] as String? == "kill -9 9501")
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM events").first?["n"] as Int? == 1)
        }
    }

    @Test("an event cut by a rotation between two runs (SYSCALL before, OBJ_PID and PROCTITLE after) is one complete event")
    func eventCutByRotationBetweenRuns() throws {
        try TestLogs.withScratch { dir in
            let logs = try makeLogDirectory(in: dir)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let current = logs.appendingPathComponent("audit.log")
            let stamp = "1700002150.000:3150"
            try TestLogs.append(AuditLine.killSyscall(stamp, target: 9150, signal: 9), to: current)
            let first = try TestLogs.ingest([logs], db: db)
            #expect(first.totals.newEvents == 6)

            let fm = FileManager.default
            try fm.moveItem(at: logs.appendingPathComponent("audit.log.1"), to: logs.appendingPathComponent("audit.log.2"))
            try fm.moveItem(at: current, to: logs.appendingPathComponent("audit.log.1"))
            try TestLogs.write(AuditLine.objPID(stamp, pid: 9150, comm: "victim")
                               + AuditLine.proctitle(stamp, argv: ["kill", "-9", "9150"])
                               + AuditLine.noise("1700002151.000:3151"), to: current)
            let second = try TestLogs.ingest([logs], db: db)
            #expect(second.totals.newEvents == 0)
            let rows = try TestLogs.signals(db, where: "event_id = ?", arguments: [stamp])
            try #require(rows.count == 1)
            #expect(rows[0]["target_pid"] as Int64? == 9150)
            #expect(rows[0]["target_comm"] as String? == "victim")
            #expect(rows[0]["sender_cmdline"] as String? == "kill -9 9150")
            #expect(try TestLogs.eventCount(db) == 6)
        }
    }

    @Test("a last line without newline in a log written just now is left for the next run")
    func unfinishedLastLineOfLiveLog() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            let db = dir.appendingPathComponent("killdb.sqlite")
            let complete = AuditLine.killEvent("1700002600.000:3601", target: 9601)
            var partial = AuditLine.killSyscall("1700002600.500:3602", target: 9602, signal: 9)
            partial.removeLast()  // auditd is still writing this line
            try TestLogs.write(complete + partial, to: log)

            let first = try TestLogs.ingest([log], db: db)
            let completeLength = Int64(complete.utf8.count)
            #expect(first.files.first?.endOffset == completeLength)
            let offsets = try TestLogs.query(db, "SELECT offset FROM checkpoints").map { $0["offset"] as Int64 }
            #expect(offsets == [completeLength])
            #expect(try TestLogs.eventCount(db) == 1)

            // auditd finishes the line and the event: the next run reads it whole.
            try TestLogs.append("\n" + AuditLine.objPID("1700002600.500:3602", pid: 9602), to: log)
            let second = try TestLogs.ingest([log], db: db)
            #expect(second.files.first?.startOffset == completeLength)
            #expect(second.totals.newEvents == 1)
            let rows = try TestLogs.signals(db)
            #expect(rows.map { $0["target_pid"] as Int64? } == [9601, 9602])
            #expect(rows.last?["signal"] as Int64? == 9)
        }
    }

    @Test("a last line without newline in a log nobody has written to for a while is read")
    func lastLineOfOldLog() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            let db = dir.appendingPathComponent("killdb.sqlite")
            var text = AuditLine.killEvent("1700002700.000:3701", target: 9701)
                + AuditLine.killSyscall("1700002700.500:3702", target: 9702, signal: 15)
            text.removeLast()
            try TestLogs.write(text, to: log)
            try TestLogs.age(log)

            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.files.first?.endOffset == (try TestLogs.size(log)))
            #expect(summary.totals.newEvents == 2)
            let rows = try TestLogs.signals(db, where: "target_arg = 9702")
            try #require(rows.count == 1)
            #expect(rows[0]["signal"] as Int64? == 15)
            #expect(rows[0]["key"] as String? == "killdbtest")  // the last field, right before the missing newline
        }
    }

    @Test("committing after every line (as a crash would cut a run) stores exactly what one big commit does")
    func tinyCommitsChangeNothing() throws {
        try TestLogs.withScratch { dir in
            let logs = try makeLogDirectory(in: dir)
            try TestLogs.copyFixture("interleaved.log", to: logs, as: "audit.log.3")
            try TestLogs.copyFixture("kill-process-group.log", to: logs, as: "audit.log.2")
            let whole = dir.appendingPathComponent("whole.sqlite")
            let pieces = dir.appendingPathComponent("pieces.sqlite")
            var tiny = IngestOptions()
            tiny.commitBytes = 1
            let a = try TestLogs.ingest([logs], db: whole)
            let b = try TestLogs.ingest([logs], db: pieces, options: tiny)
            #expect(a.totals.newEvents == 8)
            #expect(b.totals.newEvents == a.totals.newEvents)
            #expect(try TestLogs.snapshot(pieces) == TestLogs.snapshot(whole))
            let offsets = { (db: URL) in try TestLogs.query(db, "SELECT CAST(path AS TEXT) AS p, offset FROM checkpoints ORDER BY p")
                .map { "\($0["p"] as String? ?? "?")@\($0["offset"] as Int64? ?? -1)" } }
            #expect(try offsets(pieces) == offsets(whole))
            #expect(try TestLogs.ingest([logs], db: pieces, options: tiny).totals.newEvents == 0)
        }
    }

    @Test("an ingest cut short after committing its audit logs leaves no false 'events missing' for the next run")
    func interruptedRunKeepsSerialCursors() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let log = dir.appendingPathComponent("audit.log")
            // One record a second, serials without a hole.
            func records(_ serials: ClosedRange<Int>) -> String {
                serials.map { n in
                    let stamp = "\(1_700_000_000 + n).000:\(n)"
                    return n % 10 == 0 ? AuditLine.killEvent(stamp, target: 20_000 + n) : AuditLine.noise(stamp)
                }.joined()
            }
            try TestLogs.write(records(1...100), to: log)
            try TestLogs.age(log)
            _ = try TestLogs.ingest([log], db: db)

            // The next run stores its audit log's events and checkpoint, then fails (here on a
            // kernel log that is not there; a kill -9 or a lost WAL cuts a run the same way).
            try TestLogs.append(records(101...300), to: log)
            try TestLogs.age(log)
            var options = IngestOptions()
            options.kernelLogs = [dir.appendingPathComponent("no-such-kern.log").path]
            #expect(throws: (any Error).self) { try TestLogs.ingest([log], db: db, options: options) }
            #expect(try TestLogs.eventCount(db) == 30)

            try TestLogs.append(records(301...310), to: log)
            try TestLogs.age(log)
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.serialGaps.isEmpty, "\(summary.serialGaps)")
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM lost_events").first?["n"] == 0)
            #expect(try TestLogs.eventCount(db) == 31)
        }
    }

    @Test("the database is created private to its owner (mode 0600)")
    func databaseMode() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([TestLogs.fixture("three-kills.log")], db: db)
            for path in [db.path, db.path + "-wal", db.path + "-shm"] where FileManager.default.fileExists(atPath: path) {
                var st = stat()
                try #require(stat(path, &st) == 0)
                #expect(st.st_mode & 0o777 == 0o600, "\(path) has mode \(String(st.st_mode & 0o777, radix: 8))")
            }
        }
    }

    @Test("a second ingest while another holds the lock fails with 'locked' instead of writing")
    func concurrentIngestIsRefused() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let lockPath = db.path + ".lock"
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            try #require(fd >= 0)
            try #require(flock(fd, LOCK_EX) == 0)
            var options = IngestOptions()
            options.lockWait = 0
            let error = #expect(throws: IngestError.self) {
                try TestLogs.ingest([TestLogs.fixture("three-kills.log")], db: db, options: options)
            }
            if let error {
                guard case .locked(let database, _) = error else {
                    Issue.record("expected IngestError.locked, got \(error)")
                    return
                }
                #expect(database == db.path)
                let kind = KillDB.Failure.kind(of: error)
                #expect(kind == KillDB.Failure.Kind.busy, "the CLI reports it as busy")
            }
            if FileManager.default.fileExists(atPath: db.path) {
                #expect(try TestLogs.eventCount(db) == 0, "the refused run wrote nothing")
            }

            // Once the holder is gone, the ingest runs.
            flock(fd, LOCK_UN)
            close(fd)
            #expect(try TestLogs.ingest([TestLogs.fixture("three-kills.log")], db: db, options: options).totals.newEvents == 3)
        }
    }
}
