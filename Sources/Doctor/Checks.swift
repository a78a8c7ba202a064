import AuditDecoding
import AuditRules
import Foundation
import Quantities

/// The checks, each a function of gathered text and facts, so tests can feed them.
public enum Checks {
    static let startAuditd = "start it: systemctl start auditd (or auditd on hosts without systemd)"

    // MARK: 1. auditd

    /// The kernel's registered audit daemon (`auditctl -s` pid) and whether that process exists.
    /// `running` is every auditd executable found in /proc: one can run without being the
    /// daemon the kernel sends events to (starting, stopping, or started with another config).
    public static func auditd(_ status: Probe<AuditStatus>, processName: String?, running: [RunningAuditd] = []) -> Check {
        let title = "auditd running"
        switch status {
        case .skipped(let why):
            return Check(id: "auditd", title: title, status: .skip, found: why)
        case .failed(let why):
            return Check(id: "auditd", title: title, status: .fail, found: why,
                         action: "install auditd (apt-get install auditd) and make sure the kernel has audit support")
        case .value(let s):
            guard let pid = s.pid else {
                return Check(id: "auditd", title: title, status: .fail, found: "`auditctl -s` printed no pid",
                             action: startAuditd)
            }
            guard pid != 0 else {
                if !running.isEmpty {
                    let list = running.map { "pid \($0.pid) (\($0.executable))" }.joined(separator: ", ")
                    return Check(id: "auditd", title: title, status: .fail,
                                 found: "auditd is running (\(list)) but is not registered with the kernel as its audit daemon "
                                    + "(auditctl -s: pid 0), so it receives no events and nothing is logged",
                                 action: "see why in its log (journalctl -u auditd, or /var/log/syslog), then restart it: "
                                    + "systemctl restart auditd (an auditd started by hand with another -c config needs its own restart)",
                                 values: ["pid": 0, "auditd_processes": Double(running.count)])
                }
                return Check(id: "auditd", title: title, status: .fail,
                             found: "no audit daemon is registered with the kernel (auditctl -s: pid 0), so nothing is logged",
                             action: startAuditd)
            }
            guard let name = processName else {
                return Check(id: "auditd", title: title, status: .fail,
                             found: "the kernel still names pid \(pid) as its audit daemon, but that process is gone",
                             action: startAuditd, values: ["pid": Double(pid)])
            }
            return Check(id: "auditd", title: title, status: .ok, found: "pid \(pid) (\(name))", values: ["pid": Double(pid)])
        }
    }

    // MARK: 2. kernel audit enabled

    public static func enabled(_ status: Probe<AuditStatus>) -> Check {
        let title = "kernel audit enabled"
        switch status {
        case .skipped(let why):
            return Check(id: "enabled", title: title, status: .skip, found: why)
        case .failed(let why):
            return Check(id: "enabled", title: title, status: .fail, found: why,
                         action: "check that the kernel has audit support (CONFIG_AUDIT) and was not booted with audit=0")
        case .value(let s):
            switch s.enabled {
            case 1:
                return Check(id: "enabled", title: title, status: .ok, found: "enabled 1", values: ["enabled": 1])
            case 2:
                return Check(id: "enabled", title: title, status: .ok,
                             found: "enabled 2: the configuration is immutable, so rule changes take effect only after a reboot",
                             values: ["enabled": 2])
            case 0:
                return Check(id: "enabled", title: title, status: .fail,
                             found: "enabled 0: the kernel records nothing", action: "auditctl -e 1", values: ["enabled": 0])
            default:
                return Check(id: "enabled", title: title, status: .fail,
                             found: "`auditctl -s` printed no usable enabled value (\(s.values["enabled"] ?? "none"))",
                             action: "auditctl -e 1")
            }
        }
    }

    // MARK: 3. rules

    /// AuditRules' lint over `auditctl -l`: every finding, each with its fix.
    public static func rules(_ listing: Probe<String>, locked: Bool = false) -> Check {
        let title = "killdb's rules loaded"
        switch listing {
        case .skipped(let why):
            return Check(id: "rules", title: title, status: .skip, found: why)
        case .failed(let why):
            return Check(id: "rules", title: title, status: .skip, found: "cannot list the rules: \(why)")
        case .value(let text):
            let rules = text.split(whereSeparator: \.isNewline).compactMap { AuditRule(String($0)) }
            let recording = rules.filter { $0.records && !$0.signalSyscalls.isEmpty }
            let ours = recording.filter { $0.keys.contains(RuleSet.defaultKey) }.count
            let findings = RuleLint.findings(in: text)
            let values = ["signal_rules": Double(recording.count), "findings": Double(findings.count)]
            let lockNote = locked ? " (rules are locked until reboot: fix /etc/audit/rules.d, then reboot)" : ""
            if findings.contains(where: { $0.kind == .noSignalRules }) {
                return Check(id: "rules", title: title, status: .fail,
                             found: "no loaded rule records signal syscalls (\(Words.plural(Int64(rules.count), "rule")) loaded), so no kill is logged",
                             action: "sudo killdb rules install" + lockNote, values: values)
            }
            let summary = "\(Words.plural(Int64(recording.count), "rule")) record signal syscalls (\(ours) with key \(RuleSet.defaultKey))"
            if findings.isEmpty {
                return Check(id: "rules", title: title, status: .ok, found: summary + ", lint clean", values: values)
            }
            return Check(id: "rules", title: title, status: .warn,
                         found: summary + "; \(Words.plural(Int64(findings.count), "lint finding"))",
                         action: "fix each finding below, or load killdb's complete rules: sudo killdb rules install" + lockNote,
                         details: findings.map { f in f.rule.map { "\(f.message) (rule: \($0))" } ?? f.message },
                         values: values)
        }
    }

    // MARK: 4. audit at boot

    public static func boot(_ cmdline: Probe<String>) -> Check {
        let title = "audit at boot"
        let grub = "add audit=1 audit_backlog_limit=8192 to GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot"
        switch cmdline {
        case .skipped(let why), .failed(let why):
            return Check(id: "boot", title: title, status: .skip, found: why)
        case .value(let text):
            let words = text.split(whereSeparator: \.isWhitespace)
            let audit = words.last { $0.hasPrefix("audit=") }.map { String($0.dropFirst("audit=".count)) }
            switch audit {
            case "1", "on":
                return Check(id: "boot", title: title, status: .ok, found: "the kernel command line has audit=\(audit!)")
            case "0", "off":
                return Check(id: "boot", title: title, status: .fail,
                             found: "the kernel was booted with audit=\(audit!): audit cannot be enabled until a reboot",
                             action: "remove audit=\(audit!) from the kernel command line: " + grub)
            default:
                return Check(id: "boot", title: title, status: .warn,
                             found: "no audit=1 on the kernel command line: processes started before auditd enabled audit are never audited",
                             action: grub)
            }
        }
    }

    // MARK: 5. lost events and backlog

    /// A backlog at or above this share of backlog_limit means auditd is falling behind.
    public static let backlogWarnShare = 0.8

    public static func backlog(_ status: Probe<AuditStatus>) -> Check {
        let title = "lost events and backlog"
        switch status {
        case .skipped(let why):
            return Check(id: "backlog", title: title, status: .skip, found: why)
        case .failed(let why):
            return Check(id: "backlog", title: title, status: .skip, found: "no counters: \(why)")
        case .value(let s):
            guard let lost = s.lost, let backlog = s.backlog, let limit = s.backlogLimit else {
                return Check(id: "backlog", title: title, status: .skip, found: "`auditctl -s` printed no lost/backlog counters")
            }
            let values = ["lost": Double(lost), "backlog": Double(backlog), "backlog_limit": Double(limit)]
            let found = "lost \(lost), backlog \(backlog) of backlog_limit \(limit)"
            var details: [String] = []
            if limit < 1024 {
                details.append("backlog_limit \(limit) is small: a burst of events overflows it and they are lost (auditctl -b 8192 raises it)")
            }
            if let rate = s.rateLimit, rate > 0 {
                details.append("rate_limit \(rate) drops events above \(rate)/s: auditctl -r 0 lifts it")
            }
            if lost > 0 {
                return Check(id: "backlog", title: title, status: .warn,
                             found: found + ": the kernel dropped \(Words.plural(lost, "event")) since boot (a kill may be among them)",
                             action: "raise backlog_limit: auditctl -b 8192 (and -b 8192 in /etc/audit/rules.d)",
                             details: details, values: values)
            }
            if limit > 0, Double(backlog) >= backlogWarnShare * Double(limit) {
                return Check(id: "backlog", title: title, status: .warn,
                             found: found + ": nearly full, auditd is not keeping up and events are about to be lost",
                             action: "raise backlog_limit: auditctl -b \(max(8192, limit * 4)) (and in /etc/audit/rules.d); check auditd's disk",
                             details: details, values: values)
            }
            return Check(id: "backlog", title: title, status: .ok, found: found, details: details, values: values)
        }
    }

    // MARK: 6. log directory

    public static func logs(_ dir: LogDirectory, config: AuditdConfig?, isRoot: Bool) -> Check {
        let title = "log directory"
        let path = dir.path
        switch dir.access {
        case .missing:
            return Check(id: "logs", title: title, status: .fail, found: "\(path) does not exist",
                         action: "auditd creates it on start: \(startAuditd); or pass --audit-dir DIR")
        case .notADirectory:
            return Check(id: "logs", title: title, status: .fail, found: "\(path) is not a directory",
                         action: "pass the directory that holds audit.log: --audit-dir DIR")
        case .denied(let why):
            if !isRoot {
                return Check(id: "logs", title: title, status: .skip, found: "\(path) is not readable by us (\(why)): needs root")
            }
            return Check(id: "logs", title: title, status: .fail, found: "\(path) is not readable: \(why)",
                         action: "chmod 0700 \(path) && chown root \(path)")
        case .readable:
            break
        }
        var problems: [String] = []
        var actions: [String] = []
        if let config {
            let configured = (config.logFile as NSString).deletingLastPathComponent
            if normalised(configured) != normalised(path) {
                problems.append("auditd.conf log_file is \(config.logFile), not in \(path)")
                actions.append("ingest that directory: killdb ingest \(configured) (and in the schedule)")
            }
        }
        guard !dir.files.isEmpty else {
            problems.insert("no audit.log in \(path): auditd has not written here", at: 0)
            return Check(id: "logs", title: title, status: .warn, found: problems.joined(separator: "; "),
                         action: ([startAuditd] + actions).joined(separator: "; "))
        }
        let worldReadable = dir.files.filter { $0.mode & 0o004 != 0 }
        if !worldReadable.isEmpty {
            problems.append("world-readable: \(worldReadable.map(\.name).joined(separator: ", ")) (every user can read every logged command line)")
            actions.append("chmod o-rwx \(path)/audit.log*")
        }
        if let group = dir.logGroupID {
            let otherGroup = dir.files.filter { $0.mode & 0o040 != 0 && $0.gid != group && $0.gid != 0 }
            if !otherGroup.isEmpty {
                problems.append("group-readable by a group other than log_group: \(otherGroup.map { "\($0.name) (gid \($0.gid))" }.joined(separator: ", "))")
                actions.append("chgrp \(config?.logGroup ?? "root") \(path)/audit.log*")
            }
        }
        let total = dir.files.reduce(Int64(0)) { $0 + $1.size }
        let found = "\(path): \(Words.plural(Int64(dir.files.count), "log file")), \(Quantity.bytes(Double(total)))"
        let values = ["files": Double(dir.files.count), "bytes": Double(total)]
        if problems.isEmpty {
            return Check(id: "logs", title: title, status: .ok, found: found + ", readable by root and log_group only", values: values)
        }
        return Check(id: "logs", title: title, status: .warn, found: found + "; " + problems.joined(separator: "; "),
                     action: actions.joined(separator: "; "), values: values)
    }

    private static func normalised(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    // MARK: 7. retention horizon

    /// How long records stay in the logs, against how often and how recently ingest ran.
    public static func retention(config configProbe: Probe<AuditdConfig>, logs: LogDirectory, database: DatabaseProbe,
                                 now: Date) -> Check {
        let title = "retention horizon"
        let config: AuditdConfig
        switch configProbe {
        case .skipped(let why), .failed(let why):
            return Check(id: "retention", title: title, status: .skip, found: "cannot read auditd.conf: \(why)")
        case .value(let c):
            config = c
        }
        guard logs.access == .readable else {
            return Check(id: "retention", title: title, status: .skip,
                         found: "cannot read \(logs.path) to estimate the write rate (see the log directory check)")
        }
        let nowEpoch = now.timeIntervalSince1970
        let facts = database.facts
        let runs = facts?.recentRuns ?? []
        let median = Retention.medianInterval(Array(runs.prefix(11)).map(\.startedAt))
        let lastAge = facts?.lastCompleteFinish.map { nowEpoch - $0 }
        var values: [String: Double] = ["max_log_file_mb": Double(config.maxLogFileMB), "num_logs": Double(config.numLogs)]
        if let median { values["ingest_interval_seconds"] = median }
        if let lastAge { values["last_ingest_age_seconds"] = lastAge }
        let ingestWords = [
            median.map { "ingest runs every \(Quantity.duration($0)) (median)" },
            lastAge.map { "last complete ingest \(Quantity.duration($0)) ago" },
        ].compactMap { $0 }.joined(separator: ", ")
        let defaultNote = config.fileFound ? "" : " (no auditd.conf: auditd's defaults)"

        let kept: Double
        switch Retention.policy(config) {
        case .noLogs:
            return Check(id: "retention", title: title, status: .fail,
                         found: "auditd.conf says write_logs = no: auditd keeps no log to ingest",
                         action: "set write_logs = yes in \(config.fileFound ? "auditd.conf" : "/etc/audit/auditd.conf") and restart auditd",
                         values: values)
        case .stops(let action):
            return Check(id: "retention", title: title, status: .warn,
                         found: "max_log_file_action = \(action): when audit.log reaches \(config.maxLogFileMB) MB auditd "
                            + (action == "SUSPEND" ? "stops logging" : "takes the machine down"),
                         action: "set max_log_file_action = ROTATE in auditd.conf and restart auditd", values: values)
        case .other(let action):
            return Check(id: "retention", title: title, status: .ok,
                         found: "max_log_file_action = \(action): a script decides what happens to full logs; "
                            + "ingest before it moves them. " + ingestWords, values: values)
        case .keeps(let why):
            return Check(id: "retention", title: title, status: .ok,
                         found: "\(why)\(defaultNote): no record is deleted by auditd, so any ingest interval keeps everything "
                            + "(every 5 min keeps answers fresh)" + (ingestWords.isEmpty ? "" : "; " + ingestWords),
                         values: values)
        case .rotates(let bytes):
            kept = bytes
        }
        values["kept_bytes"] = kept
        let keptWords = "auditd keeps \(config.numLogs) × \(config.maxLogFileMB) MB\(defaultNote)"
        guard let rate = Retention.writeRate(logs.files) else {
            return Check(id: "retention", title: title, status: .ok,
                         found: "\(keptWords); the write rate is unknown (no logs yet, or under a minute of them), so is the horizon"
                            + (ingestWords.isEmpty ? "" : "; " + ingestWords),
                         details: ["run killdb doctor again once the logs span some hours"], values: values)
        }
        let horizon = kept / rate.bytesPerSecond
        let recommended = Retention.recommendedInterval(horizon: horizon)
        values["bytes_per_second"] = rate.bytesPerSecond
        values["horizon_seconds"] = horizon
        values["recommended_interval_seconds"] = recommended
        let horizonWords = "horizon \(Quantity.duration(horizon)) (\(keptWords), \(Quantity.bytes(rate.bytesPerSecond * 86400))/day); "
            + "recommended ingest interval \(Quantity.duration(recommended))"
        let schedule = "every \(Quantity.duration(recommended)): cron `\(Retention.cronSchedule(recommended))` or timer \(Retention.timerSetting(recommended))"
        let details = [
            "write rate: \(Quantity.bytes(Double(rate.bytes))) over \(Quantity.duration(rate.span)) of logs in \(logs.path)",
            "horizon = (num_logs − 1) × max_log_file ÷ rate: a record written just before a rotation is gone \(config.numLogs - 1) rotations later",
        ]

        var status = CheckStatus.ok
        var problems: [String] = []
        var action: String?
        if facts == nil || runs.isEmpty || lastAge == nil {
            status = .warn
            problems.append("no complete ingest on record")
            action = "run killdb ingest now, and schedule it \(schedule) (scripts/install sets this up)"
        } else if let lastAge, lastAge > horizon {
            status = .fail
            problems.append("the last complete ingest is older than the horizon: evidence may already be lost")
            action = "run killdb ingest now, and schedule it \(schedule)"
        } else if let median, median > horizon / 2 {
            status = .warn
            problems.append("ingest runs less often than half the horizon")
            action = "schedule ingest \(schedule)"
        } else if median == nil {
            status = .warn
            problems.append("only one ingest on record: is it scheduled?")
            action = "schedule ingest \(schedule) (scripts/install sets this up)"
        } else if let lastAge, lastAge > horizon / 2 {
            status = .warn
            problems.append("the last ingest is more than half the horizon ago: has the schedule stopped?")
            action = "check the schedule (systemctl status killdb-ingest.timer, or /etc/cron.d/killdb); run killdb ingest now"
        }
        if horizon < 240 && status == .ok {
            status = .warn
            problems.append("the horizon is under 4 minutes: even a 1-minute schedule is tight")
        }
        if horizon < 240 {
            let more = "raise max_log_file or num_logs in auditd.conf"
            action = action.map { $0 + "; " + more } ?? more
        }
        let found = ([horizonWords] + (ingestWords.isEmpty ? [] : [ingestWords]) + problems).joined(separator: "; ")
        return Check(id: "retention", title: title, status: status, found: found, action: action,
                     details: details, values: values)
    }

    // MARK: 9. kernel log

    /// The OOM killer's kills are only in the kernel log: an ingest that cannot read it
    /// never records them.
    public static func kernelLog(_ probe: Probe<String>) -> Check {
        let title = "kernel log"
        switch probe {
        case .value(let path):
            return Check(id: "kernel-log", title: title, status: .ok, found: "\(path) is readable: ingest records the kernel's own kills (OOM, seccomp)")
        case .skipped(let why):
            return Check(id: "kernel-log", title: title, status: .skip, found: why)
        case .failed(let why):
            return Check(id: "kernel-log", title: title, status: .warn,
                         found: "the kernel log cannot be read: \(why); ingest records no OOM kill",
                         action: "run ingest as root with CAP_SYSLOG; under systemd, without PrivateDevices=yes or ProtectKernelLogs=yes (scripts/systemd/killdb-ingest.service allows /dev/kmsg)")
        }
    }

    // MARK: 10. signal rate

    /// One signal at this share of the sampled events, and at least this many a second, floods.
    public static let floodShare = 0.8
    public static let floodPerSecond = 1.0

    /// The signal events per signal in the newest log: warns when one signal dominates.
    public static func signalRate(_ rates: SignalRates, sampled: String) -> Check {
        let title = "signal-event rate"
        let name = { (k: SignalRates.Key) in AuditArch.x86_64.signalName(k.signal) + (k.threadDirected ? " to threads (tgkill)" : "") }
        guard let top = rates.top, rates.total >= 100, rates.span >= 10 else {
            return Check(id: "signal-rate", title: title, status: .ok,
                         found: "\(Words.plural(Int64(rates.total), "signal event")) in \(sampled)\(rates.span > 0 ? " over \(Quantity.duration(rates.span))" : ""): too few to flood",
                         values: ["signal_events": Double(rates.total), "span_seconds": rates.span])
        }
        let perSecond = Double(top.count) / rates.span
        let share = Double(top.count) / Double(rates.total)
        let ranking = rates.counts.sorted { $0.value > $1.value }.prefix(5)
            .map { "\(name($0.key)): \($0.value) (\(String(format: "%.1f", Double($0.value) / rates.span))/s)" }
        var values: [String: Double] = ["signal_events": Double(rates.total), "span_seconds": rates.span,
                                        "top_signal": Double(top.key.signal), "top_per_second": perSecond, "top_share": share]
        values["top_thread_directed"] = top.key.threadDirected ? 1 : 0
        let found = "\(Words.plural(Int64(rates.total), "signal event")) in \(sampled) over \(Quantity.duration(rates.span)); "
            + "\(name(top.key)) is \(Int((share * 100).rounded()))% of them, \(String(format: "%.1f", perSecond))/s"
        guard share >= floodShare, perSecond >= floodPerSecond else {
            return Check(id: "signal-rate", title: title, status: .ok, found: found, details: ranking, values: values)
        }
        let action: String
        if top.key.signal == 23 && top.key.threadDirected {
            action = "these are Go programs preempting their own threads (tgkill(getpid(), tid, SIGURG)), not kills: "
                + "sudo killdb rules install --signals all (it leaves them out), or record only the signals you need (--signals KILL,TERM)"
        } else {
            action = "record only the signals you need (sudo killdb rules install --signals KILL,TERM), "
                + "or find the sender with killdb who --signal \(AuditArch.x86_64.signalName(top.key.signal).dropFirst(3)) and quiet it"
        }
        return Check(id: "signal-rate", title: title, status: .warn,
                     found: found + ": one signal floods the log and shortens how long auditd keeps it (see the retention horizon)",
                     action: action, details: ranking, values: values)
    }

    // MARK: 8. database

    public static func database(_ probe: DatabaseProbe) -> Check {
        let title = "database"
        switch probe {
        case .missing(let path):
            return Check(id: "database", title: title, status: .warn, found: "no database at \(path)",
                         action: "run killdb ingest (and schedule it: scripts/install)")
        case .needsRoot(let path):
            return Check(id: "database", title: title, status: .skip, found: "\(path) is not readable by us: needs root")
        case .unusable(let path, let reason):
            return Check(id: "database", title: title, status: .fail, found: "cannot open \(path) read-only: \(reason)",
                         action: "check the path (--db or KILLDB_DB) and its permissions; if it is damaged, move it aside "
                            + "(mv \(path) \(path).bad) and run killdb ingest: the logs still on disk are read again")
        case .facts(let f):
            var values: [String: Double] = ["signal_events": Double(f.signalEvents), "serial_gaps": Double(f.serialGaps),
                                            "missing_events": Double(f.missingEvents)]
            if let t = f.firstEventTime { values["first_event_time"] = t }
            if let t = f.lastEventTime { values["last_event_time"] = t }
            guard f.quickCheck == "ok" else {
                return Check(id: "database", title: title, status: .fail,
                             found: "\(f.path) fails PRAGMA quick_check: \(f.quickCheck.split(whereSeparator: \.isNewline).prefix(3).joined(separator: "; "))",
                             action: "move it aside (mv \(f.path) \(f.path).bad) and run killdb ingest: only what the logs still hold comes back",
                             values: values)
            }
            let span = f.firstEventTime.flatMap { a in f.lastEventTime.map { b in "covers \(Words.time(a)) to \(Words.time(b))" } }
                ?? "covers no events yet"
            var found = "\(f.path): schema \(f.schemaVersion ?? "none"), quick_check ok, \(span), "
                + "\(Words.plural(f.signalEvents, "signal event")), "
                + "\(Words.plural(f.serialGaps, "serial gap")) in lost_events"
            if f.missingEvents > 0 { found += " (\(Words.plural(f.missingEvents, "event")) missing)" }
            if let last = f.recentRuns.first, last.status == "failed" {
                return Check(id: "database", title: title, status: .warn,
                             found: found + "; the last ingest (started \(Words.time(last.startedAt))) failed",
                             action: "run killdb ingest to see the error", values: values)
            }
            return Check(id: "database", title: title, status: .ok, found: found, values: values)
        }
    }
}

extension Checks {
    // MARK: 9. BPF, 10. tracer

    public static func bpf(_ probe: BPFProbe?) -> Check {
        let title = "BPF usable (killdb trace)"
        guard let probe else { return Check(id: "bpf", title: title, status: .skip, found: "not looked at") }
        if let why = probe.skipped { return Check(id: "bpf", title: title, status: .skip, found: why) }
        if let problem = probe.problem {
            return Check(id: "bpf", title: title, status: .warn,
                         found: problem + "; audit still records the signal syscalls, but not cgroup.kill, namespace teardowns, OOM or CPU-limit kills, nor whether a kill was ignored",
                         action: probe.fix ?? "")
        }
        return Check(id: "bpf", title: title, status: .ok, found: probe.proof)
    }

    /// A tracer counts as running when its session is open and wrote within the last
    /// minute (it writes every 10 s).
    public static func tracer(_ database: DatabaseProbe, bpf: BPFProbe?, now: Date) -> Check {
        let title = "tracer running"
        let start = "start it: systemctl enable --now killdb-trace (scripts/install puts the unit in place), or run killdb trace"
        guard let facts = database.facts else {
            return Check(id: "tracer", title: title, status: .skip, found: "no database to look in")
        }
        guard let t = facts.tracer else {
            if bpf == nil || bpf?.skipped != nil {
                return Check(id: "tracer", title: title, status: .skip, found: "killdb trace never wrote to this database; BPF was not looked at")
            }
            if bpf?.problem != nil {
                return Check(id: "tracer", title: title, status: .skip, found: "killdb trace never ran here, and BPF is unusable (above)")
            }
            return Check(id: "tracer", title: title, status: .warn,
                         found: "killdb trace has never written to this database: kills no syscall makes (cgroup.kill, pid namespace teardown, OOM, RLIMIT_CPU) leave no record",
                         action: start)
        }
        let nowEpoch = now.timeIntervalSince1970
        var values: [String: Double] = ["last_active_at": t.lastActiveAt, "records": Double(t.records), "lost_last_day": Double(t.lostLastDay)]
        if let f = t.finishedAt { values["finished_at"] = f }
        let age = nowEpoch - t.lastActiveAt
        if t.status != "running" || t.finishedAt != nil {
            return Check(id: "tracer", title: title, status: .warn,
                         found: "the last session (\(t.signals)) stopped \(Words.time(t.finishedAt ?? t.lastActiveAt)) (\(t.status)): signals since then have no kernel record",
                         action: start, values: values)
        }
        if age > 60 {
            return Check(id: "tracer", title: title, status: .warn,
                         found: "a session (\(t.signals)) is marked running but last wrote \(Words.time(t.lastActiveAt)), \(Int(age)) s ago: it was killed or is stuck",
                         action: "systemctl restart killdb-trace (or start killdb trace again); its earlier records are kept", values: values)
        }
        if t.lostLastDay > 0 {
            let span = t.firstLossTime.flatMap { a in t.lastLossTime.map { b in " between \(Words.time(a)) and \(Words.time(b))" } } ?? ""
            return Check(id: "tracer", title: title, status: .warn,
                         found: "running since \(Words.time(t.startedAt)) (\(t.signals)), but the kernel's ring buffer lost \(Words.plural(t.lostLastDay, "record"))\(span)",
                         action: t.signals == "all" ? "trace fewer signals (--signals KILL,TERM): `all` records every signal a busy host sends"
                            : "the writer fell behind a burst: check the database's disk, and that nothing holds it locked", values: values)
        }
        return Check(id: "tracer", title: title, status: .ok,
                     found: "running since \(Words.time(t.startedAt)) (\(t.signals)), last wrote \(Int(max(0, age))) s ago, \(Words.plural(t.records, "record")), nothing lost in the last day",
                     values: values)
    }
}

/// Runs every check over gathered inputs.
public enum Doctor {
    public static func checks(_ inputs: DoctorInputs, isRoot: Bool) -> [Check] {
        let locked = inputs.auditStatus.value?.enabled == 2
        var checks = [
            Checks.auditd(inputs.auditStatus, processName: inputs.auditdProcessName, running: inputs.runningAuditd),
            Checks.enabled(inputs.auditStatus),
            Checks.rules(inputs.loadedRules, locked: locked),
            Checks.boot(inputs.cmdline),
            Checks.backlog(inputs.auditStatus),
            Checks.logs(inputs.logs, config: inputs.config.value, isRoot: isRoot),
            Checks.retention(config: inputs.config, logs: inputs.logs, database: inputs.database, now: inputs.now),
            Checks.database(inputs.database),
            Checks.bpf(inputs.bpf),
            Checks.tracer(inputs.database, bpf: inputs.bpf, now: inputs.now),
        ]
        if let kernelLog = inputs.kernelLog { checks.append(Checks.kernelLog(kernelLog)) }
        if let rates = inputs.signalRates { checks.append(Checks.signalRate(rates.rates, sampled: rates.sampled)) }
        return checks
    }

    /// 0 when every check is ok or skipped, 1 when any needs action (warn or FAIL).
    public static func exitCode(_ checks: [Check]) -> Int32 {
        checks.contains { $0.status.needsAction } ? 1 : 0
    }
}
