import AuditDecoding
import AuditLog
import Foundation
import GRDB
import KernelLog
import KillDB
import Output
import Queries
import Store
import Testing

/// Kills no process sent, joined with the ones processes sent: seccomp and fatal signals
/// from the audit log, audit records the kernel printed for want of an auditd, systemd's
/// unit stops and systemd-oomd from the journal, and the answers of who and report.
@Suite("kills no process sent")
struct KernelKillTests {
    static let fixtures = TestLogs.testsDirectory.appendingPathComponent("Fixtures/kernel")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static let utc = TimeZone(identifier: "UTC")!

    /// The who fixture (pid 4242 killed by cleanup.sh, then by systemd) plus kernel logs.
    static func database(_ dir: URL, kernelLogs: [String] = [], journals: [String] = [], audit: [String] = []) throws -> URL {
        let db = dir.appendingPathComponent("k.sqlite")
        var options = IngestOptions()
        options.kernelLogs = kernelLogs
        options.journals = journals
        options.timeZone = utc
        _ = try Ingest.run(paths: [TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path] + audit,
                           databasePath: db.path, options: options)
        return db
    }

    static func who(_ db: URL, _ configure: (inout SignalQuery) -> Void) throws -> WhoAnswer {
        var q = SignalQuery()
        configure(&q)
        return try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path))
    }

    static let context = WhoReport.Context(question: "SIGKILL sent to the target", timeZone: utc, users: { _ in nil })

    @Test("the audit pre-filter knows SECCOMP and ANOM_ABEND by name and by number, and nothing else new")
    func recordKinds() {
        func kind(_ line: String) -> RecordKind? {
            Array(line.utf8).withUnsafeBufferPointer { buf in
                if case .success(let h) = RecordHeader.parse(buf) { return h.kind }
                return nil
            }
        }
        #expect(kind("type=SECCOMP msg=audit(1.000:1): sig=31") == .seccomp)
        #expect(kind("type=ANOM_ABEND msg=audit(1.000:1): sig=11") == .anomAbend)
        #expect(kind("audit: type=1326 audit(1.000:1): sig=31") == .seccomp)
        #expect(kind("audit: type=1701 audit(1.000:1): sig=11") == .anomAbend)
        #expect(kind("type=SYSCALL msg=audit(1.000:1): arch=c000003e") == .syscall)
        #expect(kind("type=ANOM_PROMISCUOUS msg=audit(1.000:1): x=1") == .other)
        #expect(kind("type=SECCOMPX msg=audit(1.000:1): x=1") == .other)
    }

    @Test("SECCOMP and ANOM_ABEND records are kernel kills; a SECCOMP record of an action that did not kill is not")
    func seccompAndAbend() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir, audit: [Self.fixture("audit-seccomp-abend.log")])
            let rows = try TestLogs.query(db, "SELECT * FROM kernel_kills ORDER BY event_time")
            #expect(rows.count == 2)
            #expect(rows[0]["kind"] as String? == "seccomp" && rows[0]["pid"] as Int64? == 8200)
            #expect(rows[0]["signal_name"] as String? == "SIGSYS" && rows[0]["syscall"] as Int64? == 101)
            #expect(rows[0]["exe"] as String? == "/opt/chrome/chrome" && rows[0]["source"] as String? == "audit")
            #expect(rows[0]["details"] as String? == "arch=x86_64 syscall=ptrace code=kill")
            #expect(rows[1]["kind"] as String? == "abend" && rows[1]["signal_name"] as String? == "SIGSEGV")
            #expect(rows[1]["comm"] as String? == "crashy app\n", "hex-encoded comm decoded")
            // SIGKILL was asked for: the SIGSYS kill is counted, not shown.
            let kill = try Self.who(db) { $0.targetPid = 8200 }
            #expect(kill.timeline.isEmpty && kill.hiddenKernelKills == ["SIGSYS"])
            #expect(WhoReport.text(kill, Self.context).contains("1 kill by the kernel with another signal (SIGSYS) is not shown: add --signal all."))
            let all = try Self.who(db) { $0.targetPid = 8200; $0.signals = .all }
            guard case .kernel(let k)? = all.timeline.first else { Issue.record("no kernel entry"); return }
            #expect(k.kind == .seccomp)
            // code=0x0 is SECCOMP_RET_KILL_THREAD, and no ANOM_ABEND says the process ended.
            #expect(WhoReport.text(all, Self.context).hasPrefix("pid 8200 (chrome) had a thread killed by a seccomp filter at 2026-11-25 09:50:00.500 UTC"))
            // Ingesting the log again adds nothing.
            _ = try Ingest.run(paths: [Self.fixture("audit-seccomp-abend.log")], databasePath: db.path)
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM kernel_kill_events").first?["n"] == 2)
        }
    }

    /// go-libaudit's testdata (Apache-2.0): sshd's privilege-separation child killed by its
    /// seccomp filter on i386, where syscall 132 is getpgid (on x86_64 it would be utime).
    @Test("a seccomp kill names the syscall by the record's arch and the action, as ausearch -i does")
    func seccompNamesSyscallAndAction() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir, audit: [Self.fixture("seccomp-i386.log")])
            let rows = try TestLogs.query(db, "SELECT syscall, details, reason FROM kernel_kills")
            #expect(rows.first?["syscall"] as Int64? == 132)
            #expect(rows.first?["details"] as String? == "arch=i386 syscall=getpgid code=kill")
            #expect(rows.first?["reason"] as String? == "a seccomp filter refused syscall getpgid (i386)")
            let all = try Self.who(db) { $0.targetPid = 11217; $0.signals = .all }
            let text = WhoReport.text(all, Self.context)
            // libauparse's `kill` is code 0x0, SECCOMP_RET_KILL_THREAD (0x80000000, KILL_PROCESS, is `kill` too).
            #expect(text.contains("it made syscall getpgid (i386), which the filter forbids (SECCOMP_RET_KILL_THREAD)"), "\(text)")
            #expect(text.contains("seccomp   arch=i386 syscall=getpgid code=kill"), "\(text)")
            #expect(!text.contains("action 0x0") && !text.contains("syscall 132"), "\(text)")
            // The same number on another arch is another syscall: the tables are by arch.
            #expect(SeccompWords.syscallName(132, arch: AuditArch.x86_64.code) == "utime")
            #expect(SeccompWords.syscallName(129, arch: AuditArch.aarch64.code) == "kill")
            #expect(SeccompWords.syscallName(132, arch: 0x1234) == nil)
        }
    }

    @Test("audit records in the kernel log (no auditd) become signal events, once, whichever log has them")
    func auditRecordsInKernelLog() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir, kernelLogs: [Self.fixture("journal-kernel.json")])
            let rows = try TestLogs.signals(db, where: "sender_pid = 2001")
            #expect(rows.count == 1)
            #expect(rows.first?["event_id"] as String? == "1795600000.100:880")
            #expect(rows.first?["target_pid"] as Int64? == 8000 && rows.first?["target_comm"] as String? == "sleep")
            #expect(rows.first?["sender_cmdline"] as String? == "kill -9 8000")
            // The seccomp kill the kernel printed, and the memcg kill; not the forged line.
            let kills = try TestLogs.query(db, "SELECT pid, kind, source FROM kernel_kills ORDER BY pid")
            #expect(kills.map { $0["pid"] as Int64? } == [8100, 31337])
            #expect(kills.first?["source"] as String? == "journal")
            // auditd's own log of the same event: stored once.
            let audit = dir.appendingPathComponent("audit.log")
            try TestLogs.write("""
                type=SYSCALL msg=audit(1795600000.100:880): arch=c000003e syscall=62 success=yes exit=0 a0=1f40 a1=9 a2=0 a3=7f items=0 ppid=1000 pid=2001 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="kill" exe="/usr/bin/kill" key="killdb"
                type=OBJ_PID msg=audit(1795600000.100:880): opid=8000 oauid=1000 ouid=1000 oses=3 ocomm="sleep"
                type=EOE msg=audit(1795600000.100:880):

                """, to: audit)
            let s = try Ingest.run(paths: [audit.path], databasePath: db.path)
            #expect(s.totals.newEvents == 0 && s.mergedEvents == 1)
            #expect(try TestLogs.signals(db, where: "sender_pid = 2001").count == 1)
        }
    }

    @Test("audit records in a syslog file are forgeable (logger -t kernel): counted as unverified, never signal events")
    func forgedAuditInSyslog() throws {
        try TestLogs.withScratch { dir in
            var options = IngestOptions()
            options.kernelLogs = [Self.fixture("syslog-forged-audit")]
            options.timeZone = Self.utc
            let db = dir.appendingPathComponent("k.sqlite")
            let s = try Ingest.run(paths: [], databasePath: db.path, options: options)
            #expect(s.kernel.sources.first?.unverifiedAuditRecords == 2)
            #expect(s.kernel.newSignalEvents == 0 && s.kernel.signalEvents == 0)
            #expect(try TestLogs.eventCount(db) == 0)
            #expect(try TestLogs.signals(db, where: "target_pid = 31545").isEmpty, "a forged line must not become an answer")
            #expect(IngestReport.text(s, database: db.path, verbose: false)
                .contains("2 audit records that cannot be proven the kernel's (any user can write them there) were not used"))
        }
    }

    @Test("OOM-killer and systemd lines in a syslog file are forgeable (logger -t kernel, -t 'systemd[1]'): kept, but marked unverified in the views, who's text and JSON; the kernel's own entry of the kill verifies it, a forged one changes nothing of it")
    func forgedKillsInSyslog() throws {
        try TestLogs.withScratch { dir in
            // As `logger -t kernel …` and `logger -t 'systemd[1]' …` write them through rsyslog.
            let syslog = dir.appendingPathComponent("kern.log")
            try TestLogs.write("""
                Nov 24 19:02:30 web1 kernel: Out of memory: Killed process 31545 (postgres) total-vm:1000kB, anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:111 pgtables:100kB oom_score_adj:0
                Nov 24 19:02:31 web1 systemd[1]: nginx.service: Killing process 31546 (nginx) with signal SIGKILL.
                Nov 24 19:02:32 web1 systemd-oomd[600]: Killed /system.slice/batch.service due to memory pressure for /system.slice being 82.15% > 50.00% for > 20s with reclaim activity

                """, to: syslog)
            var options = IngestOptions()
            options.kernelLogs = [syslog.path]
            options.timeZone = Self.utc
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try Ingest.run(paths: [], databasePath: db.path, options: options)
            let kills = try TestLogs.query(db, "SELECT pid, source, verified FROM kernel_kills")
            #expect(kills.map { "\($0["pid"] as Int64? ?? 0) \($0["source"] as String? ?? "") \($0["verified"] as Int64? ?? -1)" } == ["31545 syslog 0"])
            let actions = try TestLogs.query(db, "SELECT kind, verified FROM systemd_kills ORDER BY event_time")
            #expect(actions.map { "\($0["kind"] as String? ?? "") \($0["verified"] as Int64? ?? -1)" } == ["kill 0", "oomd 0"])

            let oom = try Self.who(db) { $0.targetPid = 31545 }
            let text = WhoReport.text(oom, Self.context)
            #expect(text.hasPrefix("UNVERIFIED: pid 31545 (postgres) was killed by the kernel's OOM killer"), "\(text)")
            #expect(text.contains("kernel log (syslog), unverified: nothing proves the kernel wrote it (any user can write such a line with `logger -t kernel`"), "\(text)")
            func answers(_ a: WhoAnswer) throws -> [[String: Any]]? {
                (try JSONSerialization.jsonObject(with: Data(WhoReport.json(a).utf8)) as? [String: Any])?["answers"] as? [[String: Any]]
            }
            var json = try answers(oom)
            #expect(json?.first?["kind"] as? String == "kernel" && json?.first?["verified"] as? Bool == false)
            let pid1 = try Self.who(db) { $0.targetPid = 31546 }
            let pid1Text = WhoReport.text(pid1, Self.context)
            #expect(pid1Text.hasPrefix("UNVERIFIED: SIGKILL to pid 31546 (nginx)"), "\(pid1Text)")
            #expect(pid1Text.contains("a syslog file's systemd[1] line, unverified: nothing proves PID 1 wrote it"), "\(pid1Text)")
            json = try answers(pid1)
            #expect(json?.first?["kind"] as? String == "systemd" && json?.first?["verified"] as? Bool == false)

            // The kernel's own entry of the same kill (the journal's kernel transport): one kill,
            // verified now, told in the kernel's words.
            let journal = dir.appendingPathComponent("journal.json")
            try TestLogs.write("""
                {"__REALTIME_TIMESTAMP":"1795546950200000","_TRANSPORT":"kernel","SYSLOG_IDENTIFIER":"kernel","_HOSTNAME":"web1","MESSAGE":"Out of memory: Killed process 31545 (postgres) total-vm:2000kB, anon-rss:1900kB, file-rss:0kB, shmem-rss:0kB, UID:112 pgtables:100kB oom_score_adj:0"}

                """, to: journal)
            options.kernelLogs = [journal.path]
            _ = try Ingest.run(paths: [], databasePath: db.path, options: options)
            let verified = try TestLogs.query(db, "SELECT source, verified, uid, details FROM kernel_kills")
            #expect(verified.count == 1)
            #expect(verified.first?["source"] as String? == "journal" && verified.first?["verified"] as Int64? == 1)
            #expect(verified.first?["uid"] as Int64? == 112, "the kernel's words, not the forged line's")
            #expect(!WhoReport.text(try Self.who(db) { $0.targetPid = 31545 }, Self.context).contains("UNVERIFIED"))

            // A forged line about that kill afterwards changes nothing of it.
            let later = dir.appendingPathComponent("messages")
            try TestLogs.write("""
                Nov 24 19:02:30 web1 kernel: Memory cgroup out of memory: Killed process 31545 (postgres) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0

                """, to: later)
            options.kernelLogs = [later.path]
            _ = try Ingest.run(paths: [], databasePath: db.path, options: options)
            let after = try TestLogs.query(db, "SELECT kind, source, verified, uid, message FROM kernel_kills")
            #expect(after.count == 1)
            #expect(after.first?["kind"] as String? == "oom" && after.first?["uid"] as Int64? == 112)
            #expect((after.first?["message"] as String?)?.contains("total-vm:2000kB") == true)
        }
    }

    @Test("dmesg text with audit records: unverified too (whoever wrote the file chose them)")
    func auditInDmesg() throws {
        try TestLogs.withScratch { dir in
            let dmesg = dir.appendingPathComponent("dmesg.txt")
            try TestLogs.write("""
                [  721.105065] audit: type=1300 audit(1795577486.069:49): arch=c000003e syscall=62 success=yes exit=0 a0=2328 a1=9 a2=0 a3=0 items=0 ppid=1 pid=3993 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="reaper" exe="/usr/sbin/reaper" key=(null)
                [  721.105066] audit: type=1318 audit(1795577486.069:49): opid=9000 oauid=4294967295 ouid=0 oses=4294967295 ocomm="victim"
                [  721.105068] audit: type=1327 audit(1795577486.069:49): proctitle=726561706572002D2D616C6C
                [  722.000000] eth0: link up

                """, to: dmesg)
            var options = IngestOptions()
            options.kernelLogs = [dmesg.path]
            options.bootTime = 1_795_576_764.96
            let db = dir.appendingPathComponent("k.sqlite")
            let s = try Ingest.run(paths: [], databasePath: db.path, options: options)
            #expect(s.kernel.sources.first?.format == "dmesg")
            #expect(s.kernel.newSignalEvents == 0 && s.kernel.sources.first?.unverifiedAuditRecords == 3)
            #expect(try TestLogs.signals(db).isEmpty)
        }
    }

    @Test("a kill by PID 1 gets its unit and the stop timeout behind it from the journal")
    func systemdUnitStop() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir, journals: [Self.fixture("journal-systemd.json")])
            let a = try Self.who(db) { $0.targetPid = 4242 }
            guard case .signal(let first)? = a.timeline.first else { Issue.record("no signal entry first"); return }
            #expect(first.senderPid == 1)
            let s = try #require(a.systemdContext[WhoAnswer.rowKey(first)])
            #expect(s.unit == Array("nginx.service".utf8))
            #expect(s.reason == "State 'stop-sigterm' timed out. Killing")
            let text = WhoReport.text(a, Self.context)
            #expect(text.contains("  systemd   nginx.service: State 'stop-sigterm' timed out. Killing\n"))
            let json: [[String: Any]]? = TestLogs.whoAnswers(WhoReport.json(a))
            #expect(json?.first?["kind"] as? String == "signal" && json?.first?["systemd_unit"] as? String == "nginx.service")
            #expect(json?.first?["sender_comm"] as? String == "systemd")
            // A forged line from a user's process claiming to be systemd is not stored.
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM systemd_kills WHERE unit = 'evil.service' OR cgroup = '/init.scope'").first?["n"] == 0)
            // Nor one from a process that named itself systemd-oomd (_COMM is the process's
            // to choose; _SYSTEMD_UNIT is the journal's), or systemd.
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM systemd_kills WHERE unit LIKE 'postgresql%' OR cgroup LIKE '%postgresql%'").first?["n"] == 0)
            #expect(try Self.who(db) { $0.targetPid = 31545 }.timeline.isEmpty)
        }
    }

    @Test("without a journal, a kill by PID 1 says what that usually means")
    func systemdWithoutJournal() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir)
            let text = WhoReport.text(try Self.who(db) { $0.targetPid = 4242 }, Self.context)
            #expect(text.contains("PID 1 sends this when a unit's stop times out, or on `systemctl kill`"))
        }
    }

    @Test("systemd's kill the journal alone records, and systemd-oomd's cgroup kill near the time asked about")
    func journalOnly() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir, journals: [Self.fixture("journal-systemd.json")])
            let a = try Self.who(db) { $0.targetPid = 5100 }
            guard case .systemd(let s)? = a.timeline.first else { Issue.record("no systemd entry"); return }
            #expect(s.unit == Array("worker.service".utf8) && s.reason == "State 'stop-final-sigterm' timed out. Killing")
            let text = WhoReport.text(a, Self.context)
            #expect(text.hasPrefix("SIGKILL to pid 5100 (worker) at 2026-11-25 11:01:40.001 UTC from systemd (PID 1)\n"))
            let none = try Self.who(db) { $0.targetPid = 9999; $0.before = 1_795_604_700 }
            #expect(none.timeline.isEmpty && none.oomdKills.count == 1)
            #expect(WhoReport.text(none, Self.context).contains("systemd-oomd killed every process of the cgroup /system.slice/batch.service"))
            // Without a time, an oomd kill is no clue.
            #expect(try Self.who(db) { $0.targetPid = 9999 }.oomdKills.isEmpty)
        }
    }

    @Test("a kernel kill newer than any process kill comes first; the process kills follow")
    func ordering() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("kern.log")
            try TestLogs.write("""
                2026-11-25T11:10:00.250000+00:00 web1 kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/nginx.service,task_memcg=/system.slice/nginx.service,task=nginx,pid=4242,uid=33
                2026-11-25T11:10:00.250100+00:00 web1 kernel: Memory cgroup out of memory: Killed process 4242 (nginx) total-vm:900000kB, anon-rss:500000kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1200kB oom_score_adj:0

                """, to: log)
            let db = try Self.database(dir, kernelLogs: [log.path])
            let a = try Self.who(db) { $0.targetPid = 4242 }
            #expect(a.timeline.count == 3)
            guard case .kernel(let k)? = a.timeline.first, case .signal? = a.timeline.last else {
                Issue.record("order: \(a.timeline)"); return
            }
            #expect(k.kind == .memcgOOM && k.uid == 33)
            let text = WhoReport.text(a, Self.context)
            // Read from a syslog file only: anyone could have written it, and the answer says so.
            #expect(text.hasPrefix("UNVERIFIED: pid 4242 (nginx) was killed by the kernel's OOM killer at 2026-11-25 11:10:00.250 UTC: memory cgroup /system.slice/nginx.service exceeded its limit\n"))
            #expect(text.contains("Earlier candidates, newest first:"))
            #expect(text.contains("Kernel log searched (syslog)"))
            let json: [[String: Any]]? = TestLogs.whoAnswers(WhoReport.json(a))
            #expect(json?.map { $0["kind"] as? String } == ["kernel", "signal", "signal"])
            #expect(json?.first?["kernel_kind"] as? String == "memcg-oom" && json?.first?["cgroup"] as? String == "/system.slice/nginx.service")
            // --before the kernel kill: the process kills only.
            #expect(try Self.who(db) { $0.targetPid = 4242; $0.before = 1_795_605_000 }.kernelKills.isEmpty)
            // A question about a sender leaves the kernel out.
            #expect(try Self.who(db) { $0.targetPid = 4242; $0.senderComm = "systemd" }.kernelKills.isEmpty)

            // The report of the window holds both, by time.
            var q = IncidentQuery(before: 1_795_605_100, window: 3600)
            q.targetPid = 4242
            let r = try IncidentReportQuery.run(q, in: try SignalStore.openReadOnly(path: db.path))
            #expect(r.kernelKills.count == 1 && r.killsTotal == r.signalKillsTotal + 1)
            let ctx = IncidentReport.Context(database: "k.sqlite", generatedAt: 1_795_605_200, timeZone: Self.utc, users: { _ in nil })
            let report = IncidentReport.text(r, ctx)
            #expect(report.contains("UNVERIFIED: pid 4242 (nginx) was killed by the kernel's OOM killer: memory\n"))
            #expect(report.contains("The kernel log (syslog) was read from"))
            let md = IncidentReport.markdown(r, ctx)
            #expect(md.contains("### UNVERIFIED: pid 4242 (`nginx`) was killed by the kernel's OOM killer: memory cgroup `/system.slice/nginx.service` exceeded its limit"))
            let json2 = try JSONSerialization.jsonObject(with: Data(IncidentReport.json(r, ctx).utf8)) as? [String: Any]
            #expect((json2?["kernel_kills"] as? [[String: Any]])?.first?["pid"] as? Int == 4242)
            #expect((json2?["kernel_kills"] as? [[String: Any]])?.first?["verified"] as? Bool == false)
        }
    }

    @Test("nothing found: the answer says what the audit logs and the kernel log cover")
    func coverageWhenNothingFound() throws {
        try TestLogs.withScratch { dir in
            let never = try Self.database(dir)
            let text = WhoReport.text(try Self.who(never) { $0.targetPid = 1234 }, Self.context)
            #expect(text.contains("Kernel log: never ingested, so the OOM killer and other kills by the kernel cannot be ruled out"))
            let other = dir.appendingPathComponent("other")
            try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
            let read = try Self.database(other, kernelLogs: [Self.fixture("journal-kernel.json")])
            let t2 = WhoReport.text(try Self.who(read) { $0.targetPid = 1234 }, Self.context)
            #expect(t2.contains("Kernel log searched (journal): from 2026-11-25 09:46:40.100 UTC to 2026-11-25 09:56:40.000 UTC, 2 kills by the kernel that it logs (OOM, seccomp and the like)."))
            // Not complete: the kernel logs no cgroup.kill and no pid-namespace teardown, and audit sees neither.
            #expect(t2.contains("Neither audit nor the kernel log sees a kill through cgroup.kill or a pid-namespace teardown: `killdb trace` records those."))
            #expect(!t2.contains("in all."))
        }
    }

    @Test("hostile names in kernel messages stay inert in every output")
    func hostileKernelNames() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("journal.json")
            try TestLogs.write(#"{"__REALTIME_TIMESTAMP":"1795605000000000","_TRANSPORT":"kernel","_HOSTNAME":"h","MESSAGE":"Out of memory: Killed process 4242 (\u001b[2J\nroot ok) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0"}"# + "\n", to: log)
            let db = try Self.database(dir, kernelLogs: [log.path])
            let a = try Self.who(db) { $0.targetPid = 4242 }
            let text = WhoReport.text(a, Self.context)
            #expect(!text.utf8.contains(0x1b) && !text.contains("\nroot ok"))
            #expect(text.contains("(\\e[2J\\nroot ok) was killed by the kernel's OOM killer"))
            let json = WhoReport.json(a)
            #expect(!json.utf8.contains(0x1b))
            #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
        }
    }
}
