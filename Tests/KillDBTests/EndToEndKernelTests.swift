import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real kernel, real auditd, real signals: each test starts a private auditd (AuditSandbox),
/// sends signals through every signal syscall, rotates the log at least once, ingests the
/// log directory and checks the `signals` view against what was sent.
///
/// Needs root, auditd/auditctl and no other auditd running; skipped loudly otherwise, except
/// in CI (CI=true) where it fails. Set KILLDB_KEEP_AUDIT_SANDBOX=1 to keep the logs.
@Suite("real-kernel end to end", .serialized, .enabled(if: AuditSandbox.shouldRun))
struct EndToEndKernelTests {
    static let syscalls = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"]

    // MARK: Helpers

    /// Starts a sandbox, runs `body`, and always stops it (victims killed and reaped).
    func withSandbox(_ format: AuditSandbox.LogFormat = .raw,
                     _ body: (AuditSandbox) throws -> Void) throws {
        let sandbox = try AuditSandbox(format: format)
        defer { sandbox.stop() }
        try sandbox.start()
        try body(sandbox)
    }

    func dbPath(_ sandbox: AuditSandbox) -> String { sandbox.directory + "/killdb.sqlite" }

    @discardableResult
    func ingest(_ sandbox: AuditSandbox) throws -> IngestSummary {
        try Ingest.run(paths: [sandbox.logDirectory], databasePath: dbPath(sandbox))
    }

    func query(_ sandbox: AuditSandbox, _ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        let db = try DatabaseQueue(path: dbPath(sandbox))
        return try db.read { try Row.fetchAll($0, sql: sql, arguments: arguments) }
    }

    func rows(_ sandbox: AuditSandbox, sender: AuditSandbox.SenderResult) throws -> [Row] {
        try query(sandbox, "SELECT * FROM signals WHERE sender_pid = ? ORDER BY target_pid", [sender.pid])
    }

    /// The one row for this sender and syscall, with the raw records in the failure message.
    func onlyRow(_ sandbox: AuditSandbox, _ sender: AuditSandbox.SenderResult, _ syscall: String,
                 stamp: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Row {
        let found = try rows(sandbox, sender: sender).filter { $0["syscall"] as String? == syscall }
        try #require(found.count == 1,
                     "\(syscall) from \(sender): \(found.count) rows; records:\n\(sandbox.records(stamp: stamp).joined(separator: "\n"))",
                     sourceLocation: sourceLocation)
        let row = found[0]
        #expect(row["event_id"] as String? == stamp, "event_id must be the logged stamp", sourceLocation: sourceLocation)
        #expect(row["key"] as String? == sandbox.key, sourceLocation: sourceLocation)
        return row
    }

    /// The victim really got SIGKILL, so the sender did what the log claims.
    func expectKilled(_ victim: Process, sourceLocation: SourceLocation = #_sourceLocation) {
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal && victim.terminationStatus == SIGKILL,
                "victim \(victim.processIdentifier) was not SIGKILLed", sourceLocation: sourceLocation)
    }

    // MARK: Scenarios

    @Test("each signal syscall with SIGKILL", arguments: [AuditSandbox.Bits.b64, .b32])
    func everySyscall(bits: AuditSandbox.Bits) throws {
        try withSandbox { sandbox in
            guard sandbox.senderPaths[bits] != nil else {
                let why = sandbox.senderUnavailableReason[bits] ?? "unknown"
                AuditSandbox.loud("*** SKIPPING \(bits) sender scenarios: \(why) ***")
                if AuditSandbox.mustRun { Issue.record("\(bits) senders unavailable in CI: \(why)") }
                return
            }
            var sent: [(syscall: String, victim: Process, sender: AuditSandbox.SenderResult, stamp: String)] = []
            for (i, syscall) in Self.syscalls.enumerated() {
                let victim = try sandbox.startVictim()
                let pid = Int64(victim.processIdentifier)
                // tkill/tgkill/rt_tgsigqueueinfo target a thread: the main thread's tid is the pid.
                let sender = try sandbox.send(bits, syscall, signal: SIGKILL, pid: pid, tid: pid)
                #expect(sender.result == 0 && sender.errno == 0, "\(syscall): \(sender)")
                expectKilled(victim)
                sent.append((syscall, victim, sender, try sandbox.waitForEvent(senderPID: sender.pid)))
                if i == 2 { try sandbox.rotate() }  // half in audit.log.1, half in audit.log
            }
            try ingest(sandbox)

            let arch = bits == .b64 ? "x86_64" : "i386"
            let exe = sandbox.senderPaths[bits]!
            for s in sent {
                let row = try onlyRow(sandbox, s.sender, s.syscall, stamp: s.stamp)
                let victim = Int64(s.victim.processIdentifier)
                #expect(row["arch"] as String? == arch, "\(s.syscall)")
                #expect(row["signal"] as Int64? == 9 && row["signal_name"] as String? == "SIGKILL", "\(s.syscall)")
                #expect(row["probe"] as Int64? == 0, "\(s.syscall)")
                #expect(row["success"] as Int64? == 1 && row["exit"] as Int64? == 0, "\(s.syscall)")
                #expect(row["errno"] as String? == nil, "\(s.syscall)")
                #expect(row["target_pid"] as Int64? == victim, "\(s.syscall)")
                #expect(row["target_comm"] as String? == "sleep", "\(s.syscall)")
                #expect(row["target_uid"] as Int64? == 0, "\(s.syscall)")
                #expect(row["sender_uid"] as Int64? == 0 && row["sender_euid"] as Int64? == 0, "\(s.syscall)")
                #expect(row["sender_ppid"] as Int64? == Int64(getpid()), "\(s.syscall)")
                #expect(row["sender_comm"] as String? == (bits == .b64 ? "sender64" : "sender32"), "\(s.syscall)")
                #expect(row["sender_exe"] as String? == exe, "\(s.syscall)")
                if s.syscall == "pidfd_send_signal" {
                    #expect(row["pidfd"] as Int64? != nil, "pidfd_send_signal: the pidfd (a0)")
                } else {
                    #expect(row["target_arg"] as Int64? == victim, "\(s.syscall)")
                }
                if s.syscall == "tgkill" || s.syscall == "rt_tgsigqueueinfo" {
                    #expect(row["tgid_arg"] as Int64? == victim, "\(s.syscall)")
                }
            }
        }
    }

    @Test("kill of a process group: one event, one target row per member")
    func processGroup() throws {
        try withSandbox { sandbox in
            let group = try sandbox.startGroup(size: 3)
            let before = try sandbox.send(.b64, "kill", signal: 0, pid: Int64(group.pids[0]))
            let beforeStamp = try sandbox.waitForEvent(senderPID: before.pid)
            try sandbox.rotate()
            let sender = try sandbox.send(.b64, "kill", signal: SIGKILL, pid: -Int64(group.pgid))
            #expect(sender.result == 0, "\(sender)")
            let stamp = try sandbox.waitForEvent(senderPID: sender.pid)
            try ingest(sandbox)

            _ = try onlyRow(sandbox, before, "kill", stamp: beforeStamp)
            let found = try rows(sandbox, sender: sender)
            let records = sandbox.records(stamp: stamp).joined(separator: "\n")
            #expect(found.count == 3, "records:\n\(records)")
            #expect(Set(found.map { $0["event_id"] as String? }) == [stamp])
            #expect(Set(found.compactMap { $0["target_pid"] as Int64? }) == Set(group.pids.map(Int64.init)),
                    "records:\n\(records)")
            for row in found {
                #expect(row["target_arg"] as Int64? == -Int64(group.pgid), "kill(-pgid): target_arg is negative")
                #expect(row["target_comm"] as String? == "sleep")
                #expect(row["success"] as Int64? == 1 && row["signal_name"] as String? == "SIGKILL")
            }
        }
    }

    @Test("killdb who names the process that sent the SIGKILL, among other senders")
    func whoNamesTheSender() throws {
        try withSandbox { sandbox in
            // A decoy signals the victim first (SIGCONT), then the killer, named for the test, kills it.
            let victim = try sandbox.startVictim()
            let decoy = try sandbox.send(.b64, "kill", signal: SIGCONT, pid: Int64(victim.processIdentifier))
            _ = try sandbox.waitForEvent(senderPID: decoy.pid)
            try sandbox.rotate()
            let killer = try sandbox.send(.b64, "tgkill", signal: SIGKILL, pid: Int64(victim.processIdentifier),
                                          tid: Int64(victim.processIdentifier), name: "the-killer")
            let stamp = try sandbox.waitForEvent(senderPID: killer.pid)
            expectKilled(victim)
            try ingest(sandbox)

            let who = try CLI.run(["who", "--db", dbPath(sandbox), String(victim.processIdentifier)])
            #expect(who.status == 0, "\(who.stderr)")
            #expect(who.stdout.hasPrefix("SIGKILL to pid \(victim.processIdentifier) (sleep)"), "\(who.stdout)")
            #expect(who.stdout.contains("sent by   pid \(killer.pid) (the-killer)"), "\(who.stdout)")
            #expect(who.stdout.contains("via       tgkill("), "\(who.stdout)")
            #expect(who.stdout.contains("audit event \(stamp)"), "\(who.stdout)")
            let all = try CLI.run(["who", "--db", dbPath(sandbox), "--signal", "all", "--format", "json",
                                   String(victim.processIdentifier)])
            let rows = TestLogs.whoAnswers(all.stdout)
            #expect(rows.compactMap { $0["signal_name"] as? String }.prefix(2) == ["SIGKILL", "SIGCONT"])
            #expect(rows.first?["sender_pid"] as? Int == Int(killer.pid))
        }
    }

    @Test("EPERM, ESRCH and kill(pid, 0) probes")
    func failuresAndProbes() throws {
        try withSandbox { sandbox in
            let victim = try sandbox.startVictim()
            let pid = Int64(victim.processIdentifier)
            // Unprivileged senders against a root-owned victim: refused, but the target is logged.
            var eperm: [(String, AuditSandbox.SenderResult, String)] = []
            for syscall in ["kill", "tkill", "pidfd_send_signal"] {
                let s = try sandbox.send(.b64, syscall, signal: SIGKILL, pid: pid, tid: pid, uid: 65534)
                #expect(s.result == -1 && s.errno == EPERM, "\(syscall) as nobody: \(s)")
                eperm.append((syscall, s, try sandbox.waitForEvent(senderPID: s.pid)))
            }
            try sandbox.rotate()
            // pid_max itself is never a valid pid.
            let pidMax = Int64((try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))
                .trimmingCharacters(in: .whitespacesAndNewlines))!
            let esrch = try sandbox.send(.b64, "kill", signal: SIGKILL, pid: pidMax)
            #expect(esrch.result == -1 && esrch.errno == ESRCH, "\(esrch)")
            let esrchStamp = try sandbox.waitForEvent(senderPID: esrch.pid)
            let probe = try sandbox.send(.b64, "kill", signal: 0, pid: pid)
            #expect(probe.result == 0, "\(probe)")
            let probeStamp = try sandbox.waitForEvent(senderPID: probe.pid)
            #expect(victim.isRunning, "neither EPERM nor a probe may kill the victim")
            try ingest(sandbox)

            for (syscall, s, stamp) in eperm {
                let row = try onlyRow(sandbox, s, syscall, stamp: stamp)
                #expect(row["success"] as Int64? == 0, "\(syscall)")
                #expect(row["exit"] as Int64? == -1 && row["errno"] as String? == "EPERM", "\(syscall)")
                #expect(row["target_pid"] as Int64? == pid, "\(syscall): EPERM still names the target")
                #expect(row["target_uid"] as Int64? == 0, "\(syscall)")
                #expect(row["sender_uid"] as Int64? == 65534 && row["sender_euid"] as Int64? == 65534, "\(syscall)")
            }

            let e = try onlyRow(sandbox, esrch, "kill", stamp: esrchStamp)
            #expect(e["success"] as Int64? == 0)
            #expect(e["exit"] as Int64? == -3 && e["errno"] as String? == "ESRCH")
            #expect(e["target_pid"] as Int64? == nil, "ESRCH has no OBJ_PID record")
            #expect(e["target_arg"] as Int64? == pidMax)

            let p = try onlyRow(sandbox, probe, "kill", stamp: probeStamp)
            #expect(p["probe"] as Int64? == 1 && p["signal"] as Int64? == 0)
            #expect(p["success"] as Int64? == 1)
            #expect(p["target_pid"] as Int64? == pid)
        }
    }

    @Test("hostile process names are kept byte for byte")
    func hostileNames() throws {
        try withSandbox { sandbox in
            let victim = try sandbox.startVictim()
            let pid = Int64(victim.processIdentifier)
            // At most 15 bytes: the kernel truncates comm to TASK_COMM_LEN - 1.
            let names = ["evil\u{1b}[2Jname", "new\nline x", "a \"quoted\" name", "plain-name"]
            var sent: [(String, AuditSandbox.SenderResult, String)] = []
            for (i, name) in names.enumerated() {
                let s = try sandbox.send(.b64, "kill", signal: 0, pid: pid, name: name)
                sent.append((name, s, try sandbox.waitForEvent(senderPID: s.pid)))
                if i == 1 { try sandbox.rotate() }
            }
            try ingest(sandbox)
            for (name, s, stamp) in sent {
                let row = try onlyRow(sandbox, s, "kill", stamp: stamp)
                #expect(row["sender_comm"] as String? == name, "logged as: \(sandbox.records(stamp: stamp).first ?? "")")
                #expect(row["target_comm"] as String? == "sleep")
            }
        }
    }

    @Test("re-ingesting adds nothing; after a rotation, only the new events")
    func reingest() throws {
        try withSandbox { sandbox in
            let victim = try sandbox.startVictim()
            let pid = Int64(victim.processIdentifier)
            func probe() throws -> AuditSandbox.SenderResult {
                let s = try sandbox.send(.b64, "kill", signal: 0, pid: pid)
                try sandbox.waitForEvent(senderPID: s.pid)
                return s
            }
            func allRows() throws -> [Row] {
                try query(sandbox, "SELECT event_id, target_pid, sender_pid FROM signals ORDER BY event_id, target_pid")
            }
            let first = [try probe(), try probe()]
            try sandbox.rotate()
            let second = [try probe()]
            try ingest(sandbox)
            let afterFirst = try allRows()
            for s in first + second { #expect(try rows(sandbox, sender: s).count == 1, "\(s)") }

            try ingest(sandbox)
            #expect(try allRows() == afterFirst, "a second ingest of unchanged logs must add nothing")

            let third = [try probe(), try probe()]
            try sandbox.rotate()
            try ingest(sandbox)
            let afterSecond = try allRows()
            for s in first + second + third { #expect(try rows(sandbox, sender: s).count == 1, "\(s)") }
            let oldIDs = Set(afterFirst.map { $0["event_id"] as String? })
            #expect(Set(afterSecond.map { $0["event_id"] as String? }).isSuperset(of: oldIDs))
            // New rows: our new senders, plus our own SIGUSR1s to auditd when this process is audited.
            let allowed = Set(third.map { Int64($0.pid) } + [Int64(getpid())])
            for row in afterSecond where !oldIDs.contains(row["event_id"] as String?) {
                #expect(allowed.contains(row["sender_pid"] as Int64? ?? -1), "unexpected new row \(row)")
            }
            let dupes = try query(sandbox, """
                SELECT event_id, target_pid, COUNT(*) AS n FROM signals
                GROUP BY event_id, target_pid HAVING n > 1
                """)
            #expect(dupes.isEmpty, "duplicated rows: \(dupes)")
        }
    }

    @Test("ENRICHED log format")
    func enriched() throws {
        try withSandbox(.enriched) { sandbox in
            var sent: [(AuditSandbox.Bits, AuditSandbox.SenderResult, String, Process)] = []
            for bits in [AuditSandbox.Bits.b64, .b32] where sandbox.senderPaths[bits] != nil {
                let victim = try sandbox.startVictim()
                let s = try sandbox.send(bits, "kill", signal: SIGKILL, pid: Int64(victim.processIdentifier))
                expectKilled(victim)
                sent.append((bits, s, try sandbox.waitForEvent(senderPID: s.pid), victim))
                try sandbox.rotate()
            }
            let victim = try sandbox.startVictim()
            let eperm = try sandbox.send(.b64, "tgkill", signal: SIGKILL, pid: Int64(victim.processIdentifier),
                                         tid: Int64(victim.processIdentifier), uid: 65534)
            let epermStamp = try sandbox.waitForEvent(senderPID: eperm.pid)
            // ENRICHED appends interpreted fields after a 0x1D separator.
            #expect(sandbox.records(stamp: epermStamp).contains { $0.contains("\u{1d}") },
                    "auditd did not write ENRICHED records")
            try ingest(sandbox)

            for (bits, s, stamp, v) in sent {
                let row = try onlyRow(sandbox, s, "kill", stamp: stamp)
                #expect(row["arch"] as String? == (bits == .b64 ? "x86_64" : "i386"))
                #expect(row["success"] as Int64? == 1 && row["signal_name"] as String? == "SIGKILL")
                #expect(row["target_pid"] as Int64? == Int64(v.processIdentifier))
                #expect(row["sender_uid_name"] as String? == "root")
            }
            let row = try onlyRow(sandbox, eperm, "tgkill", stamp: epermStamp)
            #expect(row["errno"] as String? == "EPERM" && row["success"] as Int64? == 0)
            #expect(row["target_pid"] as Int64? == Int64(victim.processIdentifier))
            #expect(row["sender_uid"] as Int64? == 65534)
            #expect(row["sender_uid_name"] as String? == "nobody")
            #expect(row["target_uid_name"] as String? == "root")
        }
    }
}
