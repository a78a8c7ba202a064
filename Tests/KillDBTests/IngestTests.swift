import Foundation
import GRDB
import KillDB
import Testing

/// `killdb ingest` over hand-written logs (Tests/Fixtures/logs): what an operator finds in the
/// `signals` view for each kind of signal-sending call, and that re-ingesting never duplicates.
@Suite("ingest: what each kind of signal event looks like in the signals view")
struct IngestTests {
    /// Ingests one fixture into a fresh database and returns the `signals` rows.
    private func rows(of fixture: String) throws -> (IngestSummary, [Row]) {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([TestLogs.fixture(fixture)], db: db)
            return (summary, try TestLogs.signals(db))
        }
    }

    // MARK: who was targeted

    @Test("kill(-pgid) reaching three processes gives three rows with the negative group id as target_arg")
    func processGroupKill() throws {
        let (summary, rows) = try rows(of: "kill-process-group.log")
        #expect(summary.totals.signalEvents == 1)
        #expect(summary.totals.newEvents == 1)
        #expect(rows.count == 3)
        #expect(rows.map { $0["target_pid"] as Int64? } == [1000, 1001, 1002])
        for row in rows {
            #expect(row["event_id"] as String? == "1700000100.100:501")
            #expect(row["syscall"] as String? == "kill")
            #expect(row["target_arg"] as Int64? == -1000)
            #expect(row["signal"] as Int64? == 15)
            #expect(row["signal_name"] as String? == "SIGTERM")
            #expect(row["target_comm"] as String? == "worker")
            #expect(row["sender_pid"] as Int64? == 2666)
            #expect(row["sender_comm"] as String? == "bash")
        }
    }

    @Test("kill(-1, SIGKILL) on x86_64 (a0=ffffffffffffffff) is stored with target_arg -1")
    func killAllX86_64() throws {
        let (_, rows) = try rows(of: "kill-all-x86_64.log")
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0["target_arg"] as Int64? == -1 })
        #expect(rows.allSatisfy { $0["signal_name"] as String? == "SIGKILL" })
        #expect(rows.map { $0["target_pid"] as Int64? } == [3001, 3002])
    }

    @Test("i386 kill (arch=40000003 syscall=37) with a0=ffffffff is kill(-1)")
    func killAllI386() throws {
        let (summary, rows) = try rows(of: "kill-all-i386.log")
        #expect(summary.totals.signalEvents == 1)
        try #require(rows.count == 1)
        #expect(rows[0]["arch"] as String? == "i386")
        #expect(rows[0]["syscall"] as String? == "kill")
        #expect(rows[0]["target_arg"] as Int64? == -1)
        #expect(rows[0]["signal"] as Int64? == 15)
        #expect(rows[0]["signal_name"] as String? == "SIGTERM")
        #expect(rows[0]["target_pid"] as Int64? == 3101)
    }

    @Test("kill(-1) reaching 20,000 processes stores every target once (each OBJ_PID is checked against the others in constant time)")
    func wideKill() throws {
        try TestLogs.withScratch { dir in
            let stamp = "1700000200.200:601"
            var log = AuditLine.killSyscall(stamp, target: -1, signal: 9)
            for pid in 2..<20_002 { log += AuditLine.objPID(stamp, pid: pid, comm: "w\(pid % 7)") }
            log += AuditLine.objPID(stamp, pid: 7)  // the same process again: stored once
            log += AuditLine.proctitle(stamp, argv: ["kill", "-9", "-1"])
            let path = dir.appendingPathComponent("audit.log")
            try TestLogs.write(log, to: path)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([path], db: db)
            #expect(summary.totals.newEvents == 1)
            let rows = try TestLogs.query(db, """
                SELECT COUNT(*) AS n, COUNT(DISTINCT target_pid) AS pids, MIN(target_pid) AS lo, MAX(target_pid) AS hi,
                  SUM(target_comm = 'w0') AS w0 FROM signals
                """)
            #expect(rows[0]["n"] as Int64? == 20_000)
            #expect(rows[0]["pids"] as Int64? == 20_000)
            #expect(rows[0]["lo"] as Int64? == 2)
            #expect(rows[0]["hi"] as Int64? == 20_001)
            // The first copy of pid 7's OBJ_PID wins (comm w0, not sleep).
            #expect(rows[0]["w0"] as Int64? == Int64((2..<20_002).filter { $0 % 7 == 0 }.count))
        }
    }

    @Test("a wide kill's targets, in any pid order and some arriving in a later file, carry the stored event's signal, outcome and time")
    func wideKillCopies() throws {
        try TestLogs.withScratch { dir in
            let stamp = "1700000300.250:701"
            var first = AuditLine.killSyscall(stamp, target: -1, signal: 15, success: false, exit: -1)
            // Descending pids, more than one statement's worth, and a remainder.
            for pid in stride(from: 1_000, to: 800, by: -1) { first += AuditLine.objPID(stamp, pid: pid, comm: "c\(pid % 5)") }
            let a = dir.appendingPathComponent("audit.log.1")
            try TestLogs.write(first, to: a)
            // The rest of the event after rotation: no SYSCALL, so the copies come from the row.
            var rest = ""
            for pid in 2..<40 { rest += AuditLine.objPID(stamp, pid: pid) }
            let b = dir.appendingPathComponent("audit.log")
            try TestLogs.write(rest, to: b)
            try TestLogs.age(a)
            try TestLogs.age(b)
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([a, b], db: db)
            let rows = try TestLogs.query(db, """
                SELECT COUNT(*) AS n, COUNT(DISTINCT pid) AS pids, SUM(signal = 15) AS sig, SUM(failed = 1) AS failed,
                  SUM(time_ms = 1700000300250) AS timed, SUM(comm_id IS NOT NULL) AS named FROM targets
                """)
            #expect(rows[0]["n"] as Int64? == 238)
            #expect(rows[0]["pids"] as Int64? == 238)
            #expect(rows[0]["sig"] as Int64? == 238)
            #expect(rows[0]["failed"] as Int64? == 238)
            #expect(rows[0]["timed"] as Int64? == 238)
            #expect(rows[0]["named"] as Int64? == 238)
            // Read again: nothing new, nothing doubled.
            _ = try TestLogs.ingest([a, b], db: db)
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM targets")[0]["n"] as Int64? == 238)
        }
    }

    // MARK: which call, which signal

    @Test("tgkill takes its signal from a2, the thread id from a1 and the thread group from a0")
    func tgkill() throws {
        let (_, rows) = try rows(of: "tgkill.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["syscall"] as String? == "tgkill")
        #expect(r["signal"] as Int64? == 6)
        #expect(r["signal_name"] as String? == "SIGABRT")
        #expect(r["tgid_arg"] as Int64? == 1234)
        #expect(r["target_arg"] as Int64? == 1235)
        #expect(r["target_pid"] as Int64? == 1235)
        #expect(r["pidfd"] as Int64? == nil)
    }

    @Test("rt_tgsigqueueinfo takes its signal from a2 like tgkill")
    func rtTgsigqueueinfo() throws {
        let (_, rows) = try rows(of: "rt-tgsigqueueinfo.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["syscall"] as String? == "rt_tgsigqueueinfo")
        #expect(r["signal"] as Int64? == 10)
        #expect(r["signal_name"] as String? == "SIGUSR1")
        #expect(r["tgid_arg"] as Int64? == 2000)
        #expect(r["target_arg"] as Int64? == 2001)
        #expect(r["target_pid"] as Int64? == 2001)
    }

    @Test("pidfd_send_signal stores the pidfd from a0 and no target_arg; the target comes from OBJ_PID")
    func pidfdSendSignal() throws {
        let (_, rows) = try rows(of: "pidfd-send-signal.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["syscall"] as String? == "pidfd_send_signal")
        #expect(r["pidfd"] as Int64? == 5)
        #expect(r["target_arg"] as Int64? == nil)
        #expect(r["signal"] as Int64? == 15)
        #expect(r["signal_name"] as String? == "SIGTERM")
        #expect(r["target_pid"] as Int64? == 5150)
        #expect(r["sender_comm"] as String? == "systemd")
    }

    @Test("tkill takes the thread id from a0 and the signal from a1")
    func tkill() throws {
        try TestLogs.withScratch { dir in
            let stamp = "1700000450.000:851"
            let log = dir.appendingPathComponent("tkill.log")
            try TestLogs.write(AuditLine.killSyscall(stamp, target: 4321, signal: 11)
                                .replacingOccurrences(of: "syscall=62", with: "syscall=200")
                               + AuditLine.objPID(stamp, pid: 4321, comm: "crashme"), to: log)
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let rows = try TestLogs.signals(db)
            try #require(rows.count == 1)
            #expect(rows[0]["syscall"] as String? == "tkill")
            #expect(rows[0]["target_arg"] as Int64? == 4321)
            #expect(rows[0]["tgid_arg"] as Int64? == nil)
            #expect(rows[0]["signal_name"] as String? == "SIGSEGV")
            #expect(rows[0]["target_comm"] as String? == "crashme")
        }
    }

    @Test("aarch64 syscall 129 is kill; its a1 is the signal")
    func aarch64Kill() throws {
        let (summary, rows) = try rows(of: "aarch64-kill.log")
        #expect(summary.totals.signalEvents == 1)
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["arch"] as String? == "aarch64")
        #expect(r["syscall"] as String? == "kill")
        #expect(r["target_arg"] as Int64? == 8080)
        #expect(r["signal"] as Int64? == 9)
        #expect(r["signal_name"] as String? == "SIGKILL")
        #expect(r["target_pid"] as Int64? == 8080)
    }

    @Test("x86_64 syscall 129 is rt_sigqueueinfo, with the signal in a1 and the tgid in a0")
    func x86_64RtSigqueueinfo() throws {
        let (_, rows) = try rows(of: "x86_64-rt-sigqueueinfo.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["arch"] as String? == "x86_64")
        #expect(r["syscall"] as String? == "rt_sigqueueinfo")
        #expect(r["signal"] as Int64? == 10)
        #expect(r["signal_name"] as String? == "SIGUSR1")
        #expect(r["target_arg"] as Int64? == 8081)
    }

    @Test("signal 0 is a liveness probe: probe = 1")
    func signalZeroIsProbe() throws {
        let (_, rows) = try rows(of: "signal-zero-probe.log")
        try #require(rows.count == 1)
        #expect(rows[0]["signal"] as Int64? == 0)
        #expect(rows[0]["probe"] as Int64? == 1)
        let (_, kill) = try self.rows(of: "kill-all-x86_64.log")
        #expect(kill.allSatisfy { $0["probe"] as Int64? == 0 })
    }

    // MARK: failures

    @Test("a refused kill (EPERM) is stored as a failure with its errno, and still names the target")
    func epermFailure() throws {
        let (_, rows) = try rows(of: "eperm.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["success"] as Int64? == 0)
        #expect(r["exit"] as Int64? == -1)
        #expect(r["errno"] as String? == "EPERM")
        #expect(r["target_pid"] as Int64? == 1)
        #expect(r["target_comm"] as String? == "systemd")
    }

    @Test("a kill of a process that does not exist (ESRCH) gives one row with no target")
    func esrchFailure() throws {
        let (_, rows) = try rows(of: "esrch.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["success"] as Int64? == 0)
        #expect(r["errno"] as String? == "ESRCH")
        #expect(r["target_arg"] as Int64? == 999_999)
        #expect(r["target_pid"] as Int64? == nil)
    }

    // MARK: how records arrive

    @Test("records interleaved with another event's, and an OBJ_PID before its SYSCALL, are grouped by event")
    func interleavedAndOutOfOrder() throws {
        let (summary, rows) = try rows(of: "interleaved.log")
        #expect(summary.totals.signalEvents == 2)
        try #require(rows.count == 2)
        let a = rows[0], b = rows[1]
        #expect(a["event_id"] as String? == "1700001200.200:1601")
        #expect(a["target_pid"] as Int64? == 7001)
        #expect(a["target_comm"] as String? == "alpha")
        #expect(a["sender_pid"] as Int64? == 2700)
        #expect(a["sender_cmdline"] as String? == "kill -9 7001")
        #expect(b["event_id"] as String? == "1700001200.201:1602")
        #expect(b["target_pid"] as Int64? == 7002)
        #expect(b["target_comm"] as String? == "beta")
        #expect(b["sender_pid"] as Int64? == 2701)
        #expect(b["sender_cmdline"] as String? == "kill -15 7002")
    }

    @Test("an event split by rotation (SYSCALL in audit.log.1, OBJ_PID and PROCTITLE in audit.log) is one complete event")
    func eventSplitAcrossRotatedFiles() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([TestLogs.fixture("split-event")], db: db)
            #expect(summary.files.map { ($0.path as NSString).lastPathComponent } == ["audit.log.1", "audit.log"])
            #expect(summary.totals.newEvents == 1)
            let rows = try TestLogs.signals(db)
            try #require(rows.count == 1)
            #expect(rows[0]["event_id"] as String? == "1700001300.300:1701")
            #expect(rows[0]["target_pid"] as Int64? == 7003)
            #expect(rows[0]["target_comm"] as String? == "gamma")
            #expect(rows[0]["sender_cmdline"] as String? == "kill -9 7003")
        }
    }

    @Test("node= prefixed lines keep their node name")
    func nodePrefix() throws {
        let (_, rows) = try rows(of: "node-prefixed.log")
        try #require(rows.count == 1)
        #expect(rows[0]["node"] as String? == "web-01")
        #expect(rows[0]["target_pid"] as Int64? == 7004)
        #expect(rows[0]["sender_cmdline"] as String? == "kill -9 7004")
        // A log without node= has no node.
        let (_, plain) = try self.rows(of: "proctitle-argv.log")
        #expect(plain.first?["node"] as String? == nil)
    }

    @Test("events of two hosts with the same time stamp and serial are two events, told apart by node")
    func sameStampOnTwoNodes() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("aggregated.log")
            let stamp = "1700001450.000:1850"
            try TestLogs.write(AuditLine.killSyscall(stamp, target: 7101, signal: 9, node: "web-01")
                               + AuditLine.killSyscall(stamp, target: 7102, signal: 15, node: "db-01")
                               + AuditLine.objPID(stamp, pid: 7102, node: "db-01")
                               + AuditLine.objPID(stamp, pid: 7101, node: "web-01"), to: log)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.totals.newEvents == 2)
            let rows = try TestLogs.signals(db)
            try #require(rows.count == 2)
            let byNode = Dictionary(uniqueKeysWithValues: rows.map { ($0["node"] as String? ?? "", $0) })
            #expect(byNode["web-01"]?["target_pid"] as Int64? == 7101)
            #expect(byNode["web-01"]?["signal"] as Int64? == 9)
            #expect(byNode["db-01"]?["target_pid"] as Int64? == 7102)
            #expect(byNode["db-01"]?["signal"] as Int64? == 15)
        }
    }

    @Test("ENRICHED logs keep the user names the logging host resolved")
    func enrichedNames() throws {
        let (_, rows) = try rows(of: "enriched.log")
        try #require(rows.count == 1)
        let r = rows[0]
        #expect(r["sender_uid"] as Int64? == 1001)
        #expect(r["sender_uid_name"] as String? == "bob")
        #expect(r["sender_auid_name"] as String? == "alice")
        #expect(r["sender_euid_name"] as String? == "bob")
        #expect(r["target_uid"] as Int64? == 998)
        #expect(r["target_uid_name"] as String? == "postgres")
        #expect(r["target_auid_name"] as String? == "alice")
        #expect(r["syscall"] as String? == "kill")
    }

    @Test("the PROCTITLE hex with NUL separators becomes a command line with spaces")
    func proctitleCommandLine() throws {
        let (_, rows) = try rows(of: "proctitle-argv.log")
        try #require(rows.count == 1)
        #expect(rows[0]["sender_cmdline"] as String? == "/bin/kill -s KILL 7006")
    }

    @Test("a command line is stored once: in the row when short, interned when long; the argv bytes only when the command line cannot tell them")
    func commandLineStoredOnce() throws {
        try TestLogs.withScratch { dir in
            let long = ["java", "-Xmx4g", "-jar", "/opt/service/lib/service-launcher.jar", "--config", "/etc/a.yaml"]
            let argvs: [[String]] = [["kill", "-9", "1234"], ["sh", "-c", "kill -9 77"], ["sleep", "10", "", ""], long, ["kill", "-9", "1234"]]
            var text = ""
            for (i, argv) in argvs.enumerated() {
                let stamp = "1700000\(100 + i).000:\(500 + i)"
                text += AuditLine.killSyscall(stamp, target: Int64(2000 + i), signal: 9)
                    + AuditLine.objPID(stamp, pid: 2000 + i, comm: "sleep") + AuditLine.proctitle(stamp, argv: argv)
            }
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(text, to: log)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            #expect(try TestLogs.signals(db).map { $0["sender_cmdline"] as String? }
                    == ["kill -9 1234", "sh -c kill -9 77", "sleep 10", long.joined(separator: " "), "kill -9 1234"])
            let rows = try DatabaseQueue(path: db.path).read { db in
                try Row.fetchAll(db, sql: """
                    SELECT e.sender_cmdline IS NOT NULL AS inline, e.sender_cmdline_id IS NOT NULL AS interned,
                           a.value AS argv FROM events e LEFT JOIN strings a ON a.id = e.sender_argv_id ORDER BY e.sec
                    """)
            }
            #expect(rows.map { $0["inline"] as Bool } == [true, true, true, false, true])
            #expect(rows.map { $0["interned"] as Bool } == [false, false, false, true, false])
            #expect(rows.map { ($0["argv"] as Data?).map { String(decoding: $0, as: UTF8.self) } }
                    == [nil, "sh\0-c\0kill -9 77", "sleep\010\0\0", nil, nil])
        }
    }

    @Test("a target's unset audit login id and session read as the kernel prints them")
    func unsetTargetIDs() throws {
        try TestLogs.withScratch { dir in
            let stamp = "1700000100.000:500"
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(AuditLine.killSyscall(stamp, target: 2000, signal: 9)
                + "type=OBJ_PID msg=audit(\(stamp)): opid=2000 oauid=-1 ouid=4294967294 oses=-1 ocomm=\"sleep\"\n", to: log)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let r = try #require(try TestLogs.signals(db).first)
            #expect(r["target_auid"] as Int64? == 4_294_967_295 && r["target_ses"] as Int64? == 4_294_967_295)
            #expect(r["target_uid"] as Int64? == 4_294_967_294)
        }
    }

    @Test("a CONFIG_CHANGE event carrying the rule key is not a signal event")
    func configChangeIsNotASignal() throws {
        let (summary, rows) = try rows(of: "config-change-key.log")
        #expect(summary.totals.signalEvents == 0)
        #expect(summary.totals.newEvents == 0)
        #expect(rows.isEmpty)
    }

    // MARK: idempotence

    @Test("ingesting the same file twice adds nothing the second time")
    func sameFileTwice() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let first = try TestLogs.ingest([TestLogs.fixture("three-kills.log")], db: db)
            #expect(first.totals.newEvents == 3)
            let before = try TestLogs.snapshot(db)
            #expect(before.count == 3)
            let second = try TestLogs.ingest([TestLogs.fixture("three-kills.log")], db: db)
            #expect(second.totals.newEvents == 0)
            #expect(try TestLogs.snapshot(db) == before)
        }
    }

    @Test("the same bytes under another file name add nothing")
    func sameBytesOtherName() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([TestLogs.fixture("three-kills.log")], db: db)
            let before = try TestLogs.snapshot(db)
            let copy = try TestLogs.copyFixture("three-kills.log", to: dir, as: "copied-elsewhere.log")
            let second = try TestLogs.ingest([copy], db: db)
            #expect(second.totals.newEvents == 0)
            #expect(try TestLogs.snapshot(db) == before)
            // Even with a checkpoint-defeating change of name and content prefix, events are not duplicated.
            let grown = dir.appendingPathComponent("grown.log")
            try TestLogs.write(AuditLine.noise("1700001999.000:2999")
                               + String(decoding: FileManager.default.contents(atPath: copy.path)!, as: UTF8.self), to: grown)
            let third = try TestLogs.ingest([grown], db: db)
            #expect(third.files.first?.startOffset == 0)
            #expect(third.totals.newEvents == 0)
            #expect(try TestLogs.snapshot(db) == before)
        }
    }

    @Test("files ingested in reverse order give the same database")
    func reverseFileOrder() throws {
        try TestLogs.withScratch { dir in
            let forward = dir.appendingPathComponent("forward.sqlite")
            let backward = dir.appendingPathComponent("backward.sqlite")
            let files = ["three-kills.log", "two-kills-later.log", "kill-process-group.log"].map(TestLogs.fixture)
            let f = try TestLogs.ingest(files, db: forward)
            let b = try TestLogs.ingest(files.reversed(), db: backward)
            #expect(f.totals.newEvents == 6)
            #expect(b.totals.newEvents == 6)
            #expect(try TestLogs.snapshot(forward) == TestLogs.snapshot(backward))
            // And once everything is in, another pass in either order adds nothing.
            #expect(try TestLogs.ingest(files.reversed(), db: forward).totals.newEvents == 0)
            #expect(try TestLogs.snapshot(forward) == TestLogs.snapshot(backward))
        }
    }
}
