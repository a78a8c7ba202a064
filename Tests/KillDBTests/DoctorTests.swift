import AuditRules
import Doctor
import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `killdb doctor`: each check fed the text and facts it would gather on a host.
@Suite("doctor: checks of the audit set-up and the database")
struct DoctorTests {
    /// `auditctl -s` as auditd 3.0.9 prints it.
    static func statusText(enabled: Int = 1, pid: Int = 1234, lost: Int = 0, backlog: Int = 0,
                           backlogLimit: Int = 8192, rateLimit: Int = 0) -> String {
        """
        enabled \(enabled)
        failure 1
        pid \(pid)
        rate_limit \(rateLimit)
        backlog_limit \(backlogLimit)
        lost \(lost)
        backlog \(backlog)
        backlog_wait_time 60000
        backlog_wait_time_actual 0
        loginuid_immutable 0 unlocked

        """
    }

    static func status(enabled: Int = 1, pid: Int = 1234, lost: Int = 0, backlog: Int = 0,
                       backlogLimit: Int = 8192, rateLimit: Int = 0) -> Probe<AuditStatus> {
        .value(AuditStatus(text: statusText(enabled: enabled, pid: pid, lost: lost, backlog: backlog,
                                            backlogLimit: backlogLimit, rateLimit: rateLimit)))
    }

    /// killdb's default rules as `auditctl -l` lists them: respelt, hex values, key as a field.
    static let killdbRulesListed = """
        -a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1=0x9 -F key=killdb
        -a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a2=0x9 -F key=killdb
        -a always,exit -F arch=b32 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1=0x9 -F key=killdb
        -a always,exit -F arch=b32 -S tgkill,rt_tgsigqueueinfo -F a2=0x9 -F key=killdb

        """

    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let hour: Double = 3600
    static let mib: Int64 = 1_048_576

    // MARK: parsing

    @Test("auditctl -s of auditd 3.0.9 parses into numbers")
    func parsesStatus() {
        let s = AuditStatus(text: Self.statusText(pid: 812, lost: 3, backlog: 5, backlogLimit: 64))
        #expect(s.enabled == 1 && s.pid == 812 && s.lost == 3 && s.backlog == 5 && s.backlogLimit == 64 && s.rateLimit == 0)
        #expect(s.number("loginuid_immutable") == 0)
    }

    @Test("auditd.conf: values, comments, case, and auditd's defaults for what is left out")
    func parsesConfig() {
        let c = AuditdConfig(text: """
            # comment = ignored
            log_file = /srv/audit/audit.log
            max_log_file = 50   # MB
            num_logs=10
            max_log_file_action = keep_logs

            """)
        #expect(c.logFile == "/srv/audit/audit.log" && c.maxLogFileMB == 50 && c.numLogs == 10)
        #expect(c.maxLogFileAction == "KEEP_LOGS" && c.logGroup == "root" && c.writesLogs)
        let d = AuditdConfig.defaults
        #expect(d.maxLogFileMB == 8 && d.numLogs == 5 && d.maxLogFileAction == "ROTATE" && d.logFile == "/var/log/audit/audit.log")
        #expect(!AuditdConfig(text: "write_logs = no").writesLogs)
    }

    @Test("log names: audit.log.N oldest first, then audit.log; nothing else")
    func ordersLogs() {
        #expect(LogDirectory.ordered(["audit.log", "audit.log.2", "audit.log.10", "audit.log.1", "audit.log.x", "other", "audit.log.0"])
                == ["audit.log.10", "audit.log.2", "audit.log.1", "audit.log"])
    }

    @Test("write rate: compressed rotations count as ingest reads them (their span and decompressed bytes)",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") || FileManager.default.isExecutableFile(atPath: "/bin/gzip")))
    func writeRateWithCompressedRotation() throws {
        try TestLogs.withScratch { dir in
            let logDir = dir.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
            // Three hours of logs: the oldest hour in audit.log.2.gz, as logrotate leaves it.
            func hour(_ h: Int) -> String {
                (0..<60).map { m in AuditLine.noise("\(1_700_000_000 + h * 3600 + m * 60).000:\(h * 60 + m + 1)") }.joined()
            }
            let oldest = hour(0)
            try TestLogs.write(oldest, to: logDir.appendingPathComponent("audit.log.2"))
            let gzip = FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") ? "/usr/bin/gzip" : "/bin/gzip"
            let p = try Process.run(URL(fileURLWithPath: gzip), arguments: [logDir.appendingPathComponent("audit.log.2").path])
            p.waitUntilExit()
            try TestLogs.write(hour(1), to: logDir.appendingPathComponent("audit.log.1"))
            try TestLogs.write(hour(2), to: logDir.appendingPathComponent("audit.log"))

            let logs = Gather.logDirectory(logDir.path)
            #expect(logs.files.map(\.name) == ["audit.log.2.gz", "audit.log.1", "audit.log"])
            let gz = try #require(logs.files.first)
            #expect(gz.contentBytes == Int64(oldest.utf8.count) && gz.size < gz.contentBytes!)
            #expect(gz.firstStamp == 1_700_000_000)
            let rate = try #require(Retention.writeRate(logs.files))
            #expect(rate.span == 3 * 3600 - 60, "from the compressed rotation's first stamp")
            #expect(rate.bytes == logs.files.reduce(0) { $0 + $1.loggedBytes })
            #expect(rate.bytes == Int64((oldest + hour(1) + hour(2)).utf8.count))
        }
    }

    @Test("audit(SEC.MSEC:SERIAL) stamps, with node= prefixes and partial lines")
    func readsStamps() {
        let text = "ld:1\nnode=web1 type=SYSCALL msg=audit(1700000000.123:45): x\ntype=EOE msg=audit(1700000100.001:46): \ntype=X msg=audit(17"
        #expect(Stamps.all(in: Data(text.utf8)) == [1_700_000_000, 1_700_000_100])
    }

    // MARK: 1-2. auditd and the kernel

    @Test("auditd: running, not registered, registered but gone, not root, no auditctl")
    func auditdCheck() {
        let ok = Checks.auditd(Self.status(pid: 1234), processName: "auditd")
        #expect(ok.status == .ok && ok.found.contains("1234"))
        let none = Checks.auditd(Self.status(pid: 0), processName: nil)
        #expect(none.status == .fail)
        #expect(none.action == "start it: systemctl start auditd (or auditd on hosts without systemd)")
        let gone = Checks.auditd(Self.status(pid: 4321), processName: nil)
        #expect(gone.status == .fail && gone.found.contains("gone") && gone.action?.contains("systemctl start auditd") == true)
        #expect(Checks.auditd(.skipped("needs root"), processName: nil).status == .skip)
        let missing = Checks.auditd(.failed("auditctl not found"), processName: nil)
        #expect(missing.status == .fail && missing.action?.contains("apt-get install auditd") == true)
    }

    @Test("auditd: a running auditd that the kernel does not name (pid 0) is told apart from none running")
    func auditdNotRegistered() throws {
        let none = Checks.auditd(Self.status(pid: 0), processName: nil, running: [])
        #expect(none.found.hasPrefix("no audit daemon is registered"))
        let unregistered = Checks.auditd(Self.status(pid: 0), processName: nil,
                                         running: [RunningAuditd(pid: 812, executable: "/usr/sbin/auditd")])
        #expect(unregistered.status == .fail)
        #expect(unregistered.found.contains("auditd is running (pid 812 (/usr/sbin/auditd)) but is not registered"))
        #expect(unregistered.action?.contains("systemctl restart auditd") == true)

        // The scan of /proc finds a process by its executable's name, and only reads it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-doctor-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = dir.appendingPathComponent("auditd")
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: fake.path)
        let p = Process()
        p.executableURL = fake
        p.arguments = ["20"]
        try p.run()
        defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        let found = Gather.runningAuditd()
        #expect(found.contains(RunningAuditd(pid: p.processIdentifier, executable: fake.path)), "\(found)")
        #expect(p.isRunning)
    }

    /// Go's preemption as the kernel logs it under `--signals all,URG`: tgkill(getpid(), tid, SIGURG).
    static func goPreemptionLog(seconds: Int, perSecond: Int) -> String {
        var lines: [String] = []
        var serial = 1000
        for s in 0..<seconds {
            for i in 0..<perSecond {
                serial += 1
                let stamp = "\(1_700_000_000 + s).\(String(format: "%03d", i * 1000 / perSecond)):\(serial)"
                lines.append("type=SYSCALL msg=audit(\(stamp)): arch=c000003e syscall=234 success=yes exit=0 a0=4d2 a1=4d5 a2=17 a3=0 items=0 ppid=1 pid=1234 comm=\"gosvc\" key=\"killdb\"")
                lines.append("type=OBJ_PID msg=audit(\(stamp)): opid=1234 oauid=-1 ouid=0 oses=-1 ocomm=\"gosvc\"")
            }
            if s % 10 == 0 {
                serial += 1
                lines.append("node=web1 type=SYSCALL msg=audit(\(1_700_000_000 + s).500:\(serial)): arch=c000003e syscall=62 success=yes exit=0 a0=99 a1=9 a2=0 a3=0 items=0 ppid=1 pid=77 comm=\"kill\" key=\"killdb\"")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("signal-event rate: one signal that dominates the log is named, with what to do; a quiet log is ok")
    func signalRateCheck() throws {
        let flood = SignalRates.measure(Data(Self.goPreemptionLog(seconds: 60, perSecond: 85).utf8))
        #expect(flood.counts[SignalRates.Key(signal: 23, threadDirected: true)] == 60 * 85)
        #expect(flood.counts[SignalRates.Key(signal: 9, threadDirected: false)] == 6)
        let check = Checks.signalRate(flood, sampled: "audit.log")
        #expect(check.status == .warn, "\(check)")
        #expect(check.found.contains("SIGURG to threads (tgkill) is 100% of them, 86.4/s"), "\(check.found)")
        #expect(check.action?.contains("killdb rules install --signals all") == true)
        #expect(check.action?.contains("Go") == true)

        let quiet = SignalRates.measure(Data(Self.goPreemptionLog(seconds: 60, perSecond: 0).utf8))
        #expect(quiet.total == 6)
        #expect(Checks.signalRate(quiet, sampled: "audit.log").status == .ok)

        // Gathered from a log directory: the check is there, and says what it sampled.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-rate-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.goPreemptionLog(seconds: 30, perSecond: 40).write(to: dir.appendingPathComponent("audit.log"), atomically: true, encoding: .utf8)
        let inputs = Gather.inputs(DoctorOptions(databasePath: dir.path + "/none.sqlite", auditDirectory: dir.path,
                                                 configPath: dir.path + "/auditd.conf"))
        let gathered = try #require(Doctor.checks(inputs, isRoot: false).first { $0.id == "signal-rate" })
        #expect(gathered.status == .warn && gathered.found.contains("in audit.log over"), "\(gathered)")
    }

    @Test("kernel audit: enabled 1 ok, 2 ok but immutable, 0 fails with auditctl -e 1")
    func enabledCheck() {
        #expect(Checks.enabled(Self.status(enabled: 1)).status == .ok)
        let locked = Checks.enabled(Self.status(enabled: 2))
        #expect(locked.status == .ok && locked.found.contains("immutable") && locked.found.contains("reboot"))
        let off = Checks.enabled(Self.status(enabled: 0))
        #expect(off.status == .fail && off.action == "auditctl -e 1")
        #expect(Checks.enabled(.skipped("needs root")).status == .skip)
    }

    // MARK: 3. rules

    @Test("rules: killdb's rules are clean; none fails with rules install; a lazy rule warns with each fix")
    func rulesCheck() throws {
        let clean = Checks.rules(.value(Self.killdbRulesListed))
        #expect(clean.status == .ok && clean.found.contains("4 rules") && clean.found.contains("4 with key killdb"),
                "\(clean)")
        // The rules file's spelling lints the same.
        let fileRules = try RuleSet().rules.joined(separator: "\n")
        #expect(Checks.rules(.value(fileRules)).status == .ok)

        for listing in ["No rules\n", "-w /etc/passwd -p wa -k identity\n"] {
            let none = Checks.rules(.value(listing))
            #expect(none.status == .fail && none.action == "sudo killdb rules install", "\(none)")
        }

        let lazy = "-a always,exit -F arch=b64 -S kill -k mine\n"
        let warn = Checks.rules(.value(lazy))
        let findings = RuleLint.findings(in: lazy)
        #expect(warn.status == .warn && warn.details.count == findings.count && findings.count >= 3, "\(warn)")
        #expect(warn.details.contains { $0.contains("a1!=0") }, "the probe finding carries its fix")
        #expect(warn.details.contains { $0.contains("arch=b32") }, "the missing twin carries its fix")
        #expect(warn.details.allSatisfy { $0.contains("(rule: -a always,exit") || !$0.contains("rule:") })

        let locked = Checks.rules(.value(lazy), locked: true)
        #expect(locked.action?.contains("reboot") == true)
        #expect(Checks.rules(.skipped("needs root")).status == .skip)
    }

    // MARK: 4. boot

    @Test("boot: audit=1 ok, nothing warns with the GRUB fix, audit=0 fails")
    func bootCheck() {
        let cmdline = "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=1c0e ro quiet"
        #expect(Checks.boot(.value(cmdline + " audit=1\n")).status == .ok)
        let missing = Checks.boot(.value(cmdline + "\n"))
        #expect(missing.status == .warn)
        #expect(missing.found.contains("never audited"))
        #expect(missing.action?.contains("GRUB_CMDLINE_LINUX") == true && missing.action?.contains("update-grub") == true)
        // audit_backlog_limit=... is not audit=...
        #expect(Checks.boot(.value(cmdline + " audit_backlog_limit=8192")).status == .warn)
        #expect(Checks.boot(.value(cmdline + " audit=0")).status == .fail)
    }

    // MARK: 5. counters

    @Test("counters: lost > 0 warns to raise backlog_limit; a nearly full backlog warns; small limits are noted")
    func backlogCheck() {
        let quiet = Checks.backlog(Self.status())
        #expect(quiet.status == .ok && quiet.details.isEmpty)
        let lost = Checks.backlog(Self.status(lost: 17, backlogLimit: 64))
        #expect(lost.status == .warn && lost.found.contains("17 events"))
        #expect(lost.action == "raise backlog_limit: auditctl -b 8192 (and -b 8192 in /etc/audit/rules.d)")
        #expect(lost.details.contains { $0.contains("backlog_limit 64") })
        let full = Checks.backlog(Self.status(backlog: 7000, backlogLimit: 8192))
        #expect(full.status == .warn && full.action?.contains("auditctl -b") == true)
        #expect(Checks.backlog(Self.status(backlog: 6000, backlogLimit: 8192)).status == .ok)
        #expect(Checks.backlog(Self.status(rateLimit: 100)).details.contains { $0.contains("auditctl -r 0") })
    }

    // MARK: 6. log directory

    static func file(_ name: String, mb: Int64, mode: UInt32 = 0o600, gid: UInt32 = 0, modified: Double,
                     first: Double? = nil, last: Double? = nil) -> LogFileInfo {
        LogFileInfo(name: name, size: mb * mib, mode: mode, gid: gid, modified: Date(timeIntervalSince1970: modified),
                    firstStamp: first, lastStamp: last)
    }

    @Test("log directory: private logs ok; world-readable warns with chmod; missing fails; denied skips unless root")
    func logsCheck() {
        let t = Self.now.timeIntervalSince1970
        let files = [Self.file("audit.log.1", mb: 8, modified: t - 3600), Self.file("audit.log", mb: 2, mode: 0o640, gid: 4, modified: t)]
        let conf = AuditdConfig(text: "log_file = /var/log/audit/audit.log\nlog_group = adm")
        let ok = Checks.logs(LogDirectory(path: "/var/log/audit", access: .readable, files: files, logGroupID: 4),
                             config: conf, isRoot: true)
        #expect(ok.status == .ok && ok.found.contains("2 log files"), "\(ok)")

        var open = files
        open[1].mode = 0o644
        let world = Checks.logs(LogDirectory(path: "/var/log/audit", access: .readable, files: open, logGroupID: 4),
                                config: conf, isRoot: true)
        #expect(world.status == .warn && world.found.contains("world-readable: audit.log "))
        #expect(world.action == "chmod o-rwx /var/log/audit/audit.log*")

        var staff = files
        staff[0].mode = 0o640
        staff[0].gid = 50
        let group = Checks.logs(LogDirectory(path: "/var/log/audit", access: .readable, files: staff, logGroupID: 4),
                                config: conf, isRoot: true)
        #expect(group.status == .warn && group.action == "chgrp adm /var/log/audit/audit.log*")

        let elsewhere = Checks.logs(LogDirectory(path: "/var/log/audit", access: .readable, files: files, logGroupID: 4),
                                    config: AuditdConfig(text: "log_file = /srv/audit/audit.log"), isRoot: true)
        #expect(elsewhere.status == .warn && elsewhere.action?.contains("killdb ingest /srv/audit") == true)

        #expect(Checks.logs(LogDirectory(path: "/nope", access: .missing), config: nil, isRoot: true).status == .fail)
        #expect(Checks.logs(LogDirectory(path: "/var/log/audit", access: .denied("Permission denied")), config: nil, isRoot: false).status == .skip)
        #expect(Checks.logs(LogDirectory(path: "/var/log/audit", access: .denied("Permission denied")), config: nil, isRoot: true).status == .fail)
        let empty = Checks.logs(LogDirectory(path: "/var/log/audit", access: .readable), config: nil, isRoot: true)
        #expect(empty.status == .warn && empty.action?.contains("systemctl start auditd") == true)
    }

    // MARK: 7. retention

    /// Three files, 24 MiB in all, spanning 12 h 10 min: just under 2 MiB an hour.
    static func twelveHoursOfLogs() -> [LogFileInfo] {
        let t = now.timeIntervalSince1970
        return [
            file("audit.log.2", mb: 8, modified: t - 8 * hour, first: t - 12 * hour - 600),
            file("audit.log.1", mb: 8, modified: t - 4 * hour),
            file("audit.log", mb: 8, modified: t, last: t),
        ]
    }

    static func logs(_ files: [LogFileInfo]) -> LogDirectory {
        LogDirectory(path: "/var/log/audit", access: .readable, files: files)
    }

    /// A database whose runs started every `interval` seconds, the last complete one `age` ago.
    static func history(interval: Double, count: Int = 12, age: Double) -> DatabaseProbe {
        let last = now.timeIntervalSince1970 - age
        let runs = (0..<count).map { i in
            IngestRun(startedAt: last - Double(i) * interval - 2, finishedAt: last - Double(i) * interval, status: "complete")
        }
        return .facts(DatabaseFacts(path: "/var/lib/killdb/killdb.sqlite", recentRuns: runs, lastCompleteFinish: last))
    }

    static let conf = AuditdConfig(text: "max_log_file = 8\nnum_logs = 5\nmax_log_file_action = ROTATE")

    /// The database with a tracer session that wrote `age` seconds ago.
    static func tracing(_ probe: DatabaseProbe, age: Double = 5, status: String = "running", lost: Int64 = 0) -> DatabaseProbe {
        guard var f = probe.facts else { return probe }
        let t = now.timeIntervalSince1970
        f.tracer = TracerFacts(startedAt: t - 3600, lastActiveAt: t - age, finishedAt: status == "running" ? nil : t - age,
                               status: status, records: 12, lostLastDay: lost,
                               firstLossTime: lost > 0 ? t - 600 : nil, lastLossTime: lost > 0 ? t - 590 : nil)
        return .facts(f)
    }

    @Test("the tracer: BPF unusable, never run, stopped, stale, lossy, healthy — each not-ok line with its fix")
    func tracerChecks() {
        let unusable = Checks.bpf(BPFProbe(problem: "the kernel has no BTF", fix: "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y."))
        #expect(unusable.status == .warn && unusable.found.hasPrefix("the kernel has no BTF") && unusable.action?.contains("BTF") == true)
        #expect(Checks.bpf(BPFProbe(proof: "loaded")).status == .ok)
        #expect(Checks.bpf(nil).status == .skip)

        let db = Self.history(interval: 300, age: 100)
        let never = Checks.tracer(db, bpf: BPFProbe(), now: Self.now)
        #expect(never.status == .warn && never.found.contains("cgroup.kill") && never.action?.contains("killdb-trace") == true, "\(never)")
        #expect(Checks.tracer(db, bpf: BPFProbe(problem: "x"), now: Self.now).status == .skip, "no BPF: nothing to start")
        let stopped = Checks.tracer(Self.tracing(db, age: 600, status: "complete"), bpf: BPFProbe(), now: Self.now)
        #expect(stopped.status == .warn && stopped.found.contains("stopped"), "\(stopped)")
        let stale = Checks.tracer(Self.tracing(db, age: 300), bpf: BPFProbe(), now: Self.now)
        #expect(stale.status == .warn && stale.found.contains("300 s ago") && stale.action?.contains("restart") == true, "\(stale)")
        let lossy = Checks.tracer(Self.tracing(db, lost: 42), bpf: BPFProbe(), now: Self.now)
        #expect(lossy.status == .warn && lossy.found.contains("lost 42 records between"), "\(lossy)")
        let ok = Checks.tracer(Self.tracing(db), bpf: BPFProbe(), now: Self.now)
        #expect(ok.status == .ok && ok.found.contains("nothing lost"), "\(ok)")
    }

    @Test("the write rate: bytes over the span of stamps, or over mtimes without the oldest file")
    func writeRate() throws {
        let rate = try #require(Retention.writeRate(Self.twelveHoursOfLogs()))
        #expect(rate.bytes == 24 * Self.mib)
        #expect(rate.span == 12 * Self.hour + 600)
        #expect(abs(rate.bytesPerSecond - Double(24 * Self.mib) / (12 * Self.hour + 600)) < 0.001)

        // No stamps: from the oldest file's mtime (its end) to the newest's, without its bytes.
        var noStamps = Self.twelveHoursOfLogs()
        noStamps[0].firstStamp = nil
        noStamps[2].lastStamp = nil
        let fallback = try #require(Retention.writeRate(noStamps))
        #expect(fallback.bytes == 16 * Self.mib && fallback.span == 8 * Self.hour)

        let t = Self.now.timeIntervalSince1970
        #expect(Retention.writeRate([]) == nil)
        #expect(Retention.writeRate([Self.file("audit.log", mb: 1, modified: t, first: t - 30, last: t)]) == nil,
                "under a minute of log is too little to go on")
    }

    @Test("the horizon: (num_logs − 1) × max_log_file ÷ rate, and a quarter of it as a cron step")
    func horizonArithmetic() throws {
        // 4 × 8 MiB kept at just under 2 MiB/h: a little over 16 h, so every 4 h.
        let check = Checks.retention(config: .value(Self.conf), logs: Self.logs(Self.twelveHoursOfLogs()),
                                     database: Self.history(interval: 300, age: 120), now: Self.now)
        #expect(check.status == .ok, "\(check)")
        let horizon = try #require(check.values["horizon_seconds"])
        let expected = Double(4 * 8 * Self.mib) / (Double(24 * Self.mib) / (12 * Self.hour + 600))
        #expect(abs(horizon - expected) < 1 && abs(horizon - 58_400) < 1, "4/3 of the 12 h 10 min the logs span")
        #expect(check.values["recommended_interval_seconds"] == 4 * Self.hour)
        #expect(check.values["ingest_interval_seconds"] == 300)
        #expect(check.found.hasPrefix("horizon 16 h (auditd keeps 5 × 8 MB"), "\(check.found)")
        #expect(check.found.contains("recommended ingest interval 4 h"))

        #expect(Retention.policy(Self.conf) == .rotates(bytes: Double(32 * Self.mib)))
        #expect(Retention.recommendedInterval(horizon: 16 * Self.hour) == 4 * Self.hour)
        #expect(Retention.recommendedInterval(horizon: 50 * 60) == 600, "12.5 min rounds down to 10")
        #expect(Retention.recommendedInterval(horizon: 100) == 60, "never under a minute")
        #expect(Retention.recommendedInterval(horizon: 90 * 86400) == 86400, "never over a day")
        #expect(Retention.cronSchedule(60) == "* * * * *")
        #expect(Retention.cronSchedule(900) == "*/15 * * * *")
        #expect(Retention.cronSchedule(3600) == "0 * * * *")
        #expect(Retention.cronSchedule(4 * 3600) == "0 */4 * * *")
        #expect(Retention.cronSchedule(86400) == "0 0 * * *")
        #expect(Retention.timerSetting(900) == "OnUnitActiveSec=15min")
        #expect(Retention.timerSetting(7200) == "OnUnitActiveSec=2h")
        #expect(Retention.medianInterval([10, 0, 310, 20]) == 10)
        #expect(Retention.medianInterval([0, 300, 900]) == 450)
        #expect(Retention.medianInterval([5]) == nil)
    }

    @Test("retention: FAIL when the last ingest is older than the horizon, warn when runs are too rare or missing")
    func retentionVerdicts() {
        let logs = Self.logs(Self.twelveHoursOfLogs())
        func check(_ db: DatabaseProbe, _ conf: AuditdConfig = Self.conf) -> Check {
            Checks.retention(config: .value(conf), logs: logs, database: db, now: Self.now)
        }
        let stale = check(Self.history(interval: 300, age: 20 * Self.hour))
        #expect(stale.status == .fail && stale.found.contains("evidence may already be lost"), "\(stale)")
        #expect(stale.action?.contains("cron `0 */4 * * *`") == true)

        let rare = check(Self.history(interval: 10 * Self.hour, age: 60))
        #expect(rare.status == .warn && rare.found.contains("every 10 h (median)"), "\(rare)")

        let stopped = check(Self.history(interval: 300, age: 9 * Self.hour))
        #expect(stopped.status == .warn && stopped.found.contains("schedule stopped"))

        let once = check(Self.history(interval: 300, count: 1, age: 60))
        #expect(once.status == .warn && once.found.contains("only one ingest"))

        let none = check(.missing(path: "/var/lib/killdb/killdb.sqlite"))
        #expect(none.status == .warn && none.found.contains("no complete ingest") && none.values["horizon_seconds"] != nil)

        // Policies without a horizon.
        let keep = check(.missing(path: "x"), AuditdConfig(text: "max_log_file_action = KEEP_LOGS"))
        #expect(keep.status == .ok && keep.found.contains("never deleted"))
        #expect(check(.missing(path: "x"), AuditdConfig(text: "num_logs = 1")).status == .ok)
        let suspend = check(.missing(path: "x"), AuditdConfig(text: "max_log_file_action = suspend"))
        #expect(suspend.status == .warn && suspend.action?.contains("ROTATE") == true)
        #expect(check(.missing(path: "x"), AuditdConfig(text: "write_logs = no")).status == .fail)

        // Tiny logs: a horizon of minutes is a warning even with a fast schedule.
        let t = Self.now.timeIntervalSince1970
        let burst = [Self.file("audit.log.1", mb: 1, modified: t - 60, first: t - 120), Self.file("audit.log", mb: 1, modified: t, last: t)]
        let tiny = Checks.retention(config: .value(AuditdConfig(text: "max_log_file = 1\nnum_logs = 2")), logs: Self.logs(burst),
                                    database: Self.history(interval: 60, age: 30), now: Self.now)
        #expect(tiny.status == .warn && tiny.action?.contains("raise max_log_file") == true, "\(tiny)")

        let unknown = Checks.retention(config: .value(Self.conf), logs: Self.logs([]), database: .missing(path: "x"), now: Self.now)
        #expect(unknown.status == .ok && unknown.found.contains("unknown"))
        #expect(Checks.retention(config: .skipped("needs root"), logs: logs, database: .missing(path: "x"), now: Self.now).status == .skip)
    }

    // MARK: 8. database

    @Test("database: missing warns to ingest; facts ok; a failed quick_check fails; a failed last run warns")
    func databaseCheck() {
        let missing = Checks.database(.missing(path: "/var/lib/killdb/killdb.sqlite"))
        #expect(missing.status == .warn && missing.action?.hasPrefix("run killdb ingest") == true)
        let facts = DatabaseFacts(path: "/db", schemaVersion: "001_initial", firstEventTime: 1_700_000_000,
                                  lastEventTime: 1_700_086_400, signalEvents: 412, serialGaps: 2, missingEvents: 5,
                                  recentRuns: [IngestRun(startedAt: 1_700_086_401, finishedAt: 1_700_086_402, status: "complete")])
        let ok = Checks.database(.facts(facts))
        #expect(ok.status == .ok)
        #expect(ok.found == "/db: schema 001_initial, quick_check ok, covers 2023-11-14 22:13:20 UTC to 2023-11-15 22:13:20 UTC, "
                + "412 signal events, 2 serial gaps in lost_events (5 events missing)", "\(ok.found)")
        var damaged = facts
        damaged.quickCheck = "*** in database main ***\nPage 7: btreeInitPage() returns error code 11"
        let bad = Checks.database(.facts(damaged))
        #expect(bad.status == .fail && bad.found.contains("btreeInitPage") && bad.action?.contains("mv /db /db.bad") == true)
        var failed = facts
        failed.recentRuns[0].status = "failed"
        #expect(Checks.database(.facts(failed)).status == .warn)
        #expect(Checks.database(.needsRoot(path: "/db")).status == .skip)
        #expect(Checks.database(.unusable(path: "/db", reason: "file is not a database")).status == .fail)
    }

    // MARK: gathering, verdict, output

    @Test("gathering a real database and log directory from disk, read-only")
    func gathersFromDisk() throws {
        try TestLogs.withScratch { dir in
            let logDir = dir.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: logDir, withIntermediateDirectories: true)
            let old = logDir.appendingPathComponent("audit.log.1"), cur = logDir.appendingPathComponent("audit.log")
            try TestLogs.write(AuditLine.noise("1700000000.000:1") + AuditLine.killEvent("1700000100.000:2", target: 300), to: old)
            try TestLogs.write(AuditLine.killEvent("1700003600.500:3", target: 301) + AuditLine.noise("1700007200.000:4"), to: cur)
            chmod(old.path, 0o600)
            chmod(cur.path, 0o644)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([logDir], db: db)

            let logs = Gather.logDirectory(logDir.path, logGroupID: 0)
            #expect(logs.access == .readable && logs.files.map(\.name) == ["audit.log.1", "audit.log"])
            #expect(logs.files.first?.firstStamp == 1_700_000_000 && logs.files.last?.lastStamp == 1_700_007_200)
            #expect(Checks.logs(logs, config: nil, isRoot: true).status == .warn, "audit.log is world-readable")

            let facts = try #require(Gather.database(db.path).facts)
            #expect(facts.quickCheck == "ok" && facts.schemaVersion?.first?.isNumber == true)
            #expect(facts.signalEvents == 2 && facts.recentRuns.count == 1 && facts.lastCompleteFinish != nil)
            #expect(facts.firstEventTime == 1_700_000_000 && facts.lastEventTime == 1_700_007_200)
            #expect(Gather.database(dir.appendingPathComponent("none.sqlite").path) == .missing(path: dir.appendingPathComponent("none.sqlite").path))
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("none.sqlite").path), "doctor never creates a database")

            try TestLogs.write("not a database, just text that is long enough to be read as a header..........", to: dir.appendingPathComponent("junk.sqlite"))
            guard case .unusable = Gather.database(dir.appendingPathComponent("junk.sqlite").path) else {
                Issue.record("a file that is not a database must be unusable")
                return
            }
            #expect(Gather.logDirectory(dir.appendingPathComponent("nope").path).access == .missing)
        }
    }

    @Test("exit code: 0 for ok and skip, 1 as soon as anything warns or fails")
    func exitCode() {
        let ok = Check(id: "a", title: "a", status: .ok, found: "")
        let skip = Check(id: "b", title: "b", status: .skip, found: "")
        #expect(Doctor.exitCode([ok, skip]) == 0)
        #expect(Doctor.exitCode([]) == 0)
        #expect(Doctor.exitCode([ok, Check(id: "c", title: "c", status: .warn, found: "")]) == 1)
        #expect(Doctor.exitCode([skip, Check(id: "d", title: "d", status: .fail, found: "")]) == 1)
    }

    @Test("a whole healthy host: every check ok, one line each, exit 0")
    func healthyHost() {
        let inputs = DoctorInputs(
            auditStatus: Self.status(), auditdProcessName: "auditd", loadedRules: .value(Self.killdbRulesListed),
            cmdline: .value("root=/dev/sda1 ro audit=1 audit_backlog_limit=8192"), config: .value(Self.conf),
            logs: Self.logs(Self.twelveHoursOfLogs()), database: Self.tracing(Self.history(interval: 300, age: 100)),
            bpf: BPFProbe(), now: Self.now)
        let checks = Doctor.checks(inputs, isRoot: true)
        #expect(checks.map(\.id) == ["auditd", "enabled", "rules", "boot", "backlog", "logs", "retention", "database", "bpf", "tracer"])
        #expect(checks.allSatisfy { $0.status == .ok }, "\(checks.filter { $0.status != .ok })")
        #expect(Doctor.exitCode(checks) == 0)
        let text = DoctorReport.text(checks)
        #expect(text.split(separator: "\n").count == checks.count + checks.reduce(0) { $0 + $1.details.count } + 1)
        #expect(text.hasSuffix("All checks passed.\n"))
    }

    @Test("not root: auditctl checks skip with 'needs root', and a stopped daemon is one FAIL line with its fix")
    func reportLines() {
        let notRoot = DoctorInputs(
            auditStatus: .skipped("needs root"), auditdProcessName: nil, loadedRules: .skipped("needs root"),
            cmdline: .value("ro audit=1"), config: .value(Self.conf), logs: Self.logs(Self.twelveHoursOfLogs()),
            database: Self.history(interval: 300, age: 100), now: Self.now)
        let checks = Doctor.checks(notRoot, isRoot: false)
        #expect(checks.filter { $0.status == .skip }.map(\.id) == ["auditd", "enabled", "rules", "backlog", "bpf", "tracer"])
        #expect(Doctor.exitCode(checks) == 0)

        var stopped = notRoot
        stopped.auditStatus = Self.status(pid: 0)
        stopped.loadedRules = .value("No rules\n")
        let text = DoctorReport.text(Doctor.checks(stopped, isRoot: true))
        #expect(text.contains("FAIL  auditd running: no audit daemon is registered with the kernel (auditctl -s: pid 0), so nothing is logged — fix: start it: systemctl start auditd (or auditd on hosts without systemd)\n"), "\(text)")
        #expect(text.contains("FAIL  killdb's rules loaded: ") && text.contains("— fix: sudo killdb rules install\n"))
        #expect(text.hasSuffix("2 of 10 checks need action (2 FAIL, 0 warn), 2 skipped.\n"), "\(text)")
        #expect(DoctorReport.text(Doctor.checks(stopped, isRoot: true), clean: { $0.uppercased() }).contains("NO AUDIT DAEMON"))
    }

    @Test("the CLI: text and JSON agree, exit 1 when something needs action")
    func cli() throws {
        try TestLogs.withScratch { dir in
            let conf = dir.appendingPathComponent("auditd.conf")
            try TestLogs.write("log_file = \(dir.path)/log/audit.log\nmax_log_file = 8\nnum_logs = 5\n", to: conf)
            let args = ["doctor", "--db", dir.appendingPathComponent("none.sqlite").path,
                        "--audit-dir", dir.appendingPathComponent("log").path, "--config", conf.path]
            let text = try CLI.run(args)
            #expect(text.status == 1, "the log directory is missing: \(text.stdout) \(text.stderr)")
            #expect(text.stdout.contains("FAIL  log directory: \(dir.path)/log does not exist"), "\(text.stdout)")
            #expect(text.stdout.contains("warn  database: no database at"))

            let json = try CLI.run(args + ["--format", "json"])
            #expect(json.status == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["needs_action"] as? Bool == true)
            let checks = try #require(object["checks"] as? [[String: Any]])
            #expect(checks.count == 11)
            #expect(checks.first { $0["id"] as? String == "logs" }?["status"] as? String == "FAIL")
            #expect(checks.first { $0["id"] as? String == "kernel-log" } != nil)

            let help = try CLI.run(["--help"])
            #expect(help.stdout.contains("doctor"), "doctor is listed in killdb --help")
        }
    }
}

extension EndToEndKernelTests {
    /// Doctor against the real kernel: no auditd, a private auditd without rules, and one
    /// with killdb's rules. Nested in the real-kernel suite so it inherits `.serialized` and
    /// `.enabled(if:)`: only one auditd can own the kernel's audit socket.
    @Suite("doctor on the real kernel")
    struct DoctorKernelTests {
        func inputs(_ sandbox: AuditSandbox) -> [Check] {
            let options = DoctorOptions(databasePath: sandbox.directory + "/killdb.sqlite",
                                        auditDirectory: sandbox.logDirectory, configPath: sandbox.directory + "/auditd.conf")
            return Doctor.checks(Gather.inputs(options), isRoot: true)
        }

        func check(_ checks: [Check], _ id: String) throws -> Check {
            try #require(checks.first { $0.id == id }, "no \(id) check")
        }

        /// Signal rules of other suites (RulesKernelTests runs beside this one) change what
        /// the rules check sees; only assert on the rules check without them.
        func foreignSignalRules(besides key: String?) throws -> [String] {
            try Auditctl.find().loadedRules().filter { line in
                guard let r = AuditRule(line), !r.signalSyscalls.isEmpty else { return false }
                return key.map { !r.keys.contains($0) } ?? true
            }
        }

        @Test("stopped auditd, private auditd without rules, then with killdb's rules")
        func threeStates() throws {
            let sandbox = try AuditSandbox()
            // No rules of the sandbox's own: they record every signal on the machine, and a
            // kill another test sends meanwhile would be one event too many below.
            sandbox.loadsOwnRules = false
            defer { sandbox.stop() }

            // 1. Nothing running (the suite runs only when no other auditd owns the socket).
            let stopped = inputs(sandbox)
            #expect(try check(stopped, "auditd").status == .fail, "\(stopped)")
            #expect(try check(stopped, "auditd").action?.contains("systemctl start auditd") == true)
            #expect(try check(stopped, "logs").status == .fail, "no log directory yet")
            #expect(try check(stopped, "database").status == .warn)

            // 2. Our auditd, without rules.
            try sandbox.start()
            let auditctl = try Auditctl.find()
            let bare = inputs(sandbox)
            let auditd = try check(bare, "auditd")
            #expect(auditd.status == .ok && auditd.values["pid"] == Double(sandbox.auditdPID), "\(auditd)")
            #expect(try check(bare, "enabled").status == .ok)
            if try foreignSignalRules(besides: nil).isEmpty {
                let rules = try check(bare, "rules")
                #expect(rules.status == .fail && rules.action == "sudo killdb rules install", "\(rules)")
            } else {
                AuditSandbox.loud("*** doctor kernel test: other signal rules are loaded; not asserting the no-rules verdict ***")
            }
            #expect(try check(bare, "logs").status == .ok, "\(bare)")
            #expect(try check(bare, "backlog").status != .skip)

            // 3. killdb's rules (SIGRTMAX, which no other test sends), a signal and an ingest.
            let dir = sandbox.directory + "/rules.d"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let key = "killdb-doctortest-\(UInt32.random(in: 0...UInt32.max))"
            let installation = try RulesInstallation(directory: dir, key: key, auditctl: auditctl)
            defer { _ = try? installation.remove() }
            try installation.install(signals: SignalSelection.parse("RTMAX"))
            let victim = try sandbox.startVictim()
            let sent = try sandbox.send(.b64, "kill", signal: 64, pid: Int64(victim.processIdentifier))
            // The whole event on disk: its SYSCALL record, then the PROCTITLE the kernel writes last.
            let line = try sandbox.waitForLine(containing: ["type=SYSCALL ", " pid=\(sent.pid) ", "key=\"\(key)\""])
            let stamp = try #require(line.split(separator: "(").dropFirst().first?.split(separator: ")").first)
            try sandbox.waitForLine(containing: ["type=PROCTITLE msg=audit(\(stamp))"])
            _ = try Ingest.run(paths: [sandbox.logDirectory], databasePath: sandbox.directory + "/killdb.sqlite")

            let ready = inputs(sandbox)
            if try foreignSignalRules(besides: key).isEmpty {
                let rules = try check(ready, "rules")
                #expect(rules.status == .ok && rules.found.contains("lint clean"), "\(rules)")
            }
            let database = try check(ready, "database")
            #expect(database.status == .ok && database.values["signal_events"] == 1, "\(database)")
            #expect(try check(ready, "retention").status == .ok, "\(ready)")

            // The CLI agrees, and exits 1 exactly when some check needs action.
            let cli = try CLI.run(["doctor", "--db", sandbox.directory + "/killdb.sqlite", "--audit-dir", sandbox.logDirectory,
                                   "--config", sandbox.directory + "/auditd.conf", "--format", "json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any], "\(cli.stderr)")
            let statuses = (object["checks"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? String }
            #expect(statuses.count == 12)
            // The signal-event rate from the real log: one SIGRTMAX is no flood.
            let rate = try check(ready, "signal-rate")
            #expect(rate.status == .ok && rate.values["signal_events"] == 1, "\(rate)")
            #expect(cli.status == (statuses.contains { $0 == "warn" || $0 == "FAIL" } ? 1 : 0), "\(statuses)")
        }
    }
}
