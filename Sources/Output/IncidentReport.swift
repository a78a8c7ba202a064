import AuditDecoding
import Foundation
import Quantities
import Queries

/// What `killdb report` prints: the incident report as text (80 columns), Markdown (for a
/// ticket or a wiki) or JSON.
///
/// Every string the kernel logged (names, paths, command lines, tty, key, node, user names)
/// was chosen by whoever ran a process, so it goes through `SafeText` in text and Markdown;
/// Markdown further puts it in a code span, so it cannot open a table cell, a heading or a
/// link either.
public enum IncidentReport {
    public struct Context: Sendable {
        /// The database as the operator named it.
        public var database: String
        public var generatedAt: Double
        public var timeZone: TimeZone
        public var users: UserNames
        /// No defaults for the clock and the user database: a renderer does no I/O.
        public init(database: String, generatedAt: Double, timeZone: TimeZone = .current, users: @escaping UserNames) {
            self.database = database
            self.generatedAt = generatedAt
            self.timeZone = timeZone
            self.users = users
        }
    }

    // MARK: - Text

    public static func text(_ r: Incident, _ ctx: Context) -> String {
        let s = Style.text
        var out = "killdb incident report\n======================\n"
        for (label, value) in header(r, ctx, s) {
            for (i, v) in value.enumerated() {
                out += wrap((i == 0 ? label + ":" : "").padded(to: 11) + v, indent: 11)
            }
        }

        out += heading("Summary")
        out += summary(r, ctx, s).map { wrap($0, indent: 2) }.joined()

        out += heading("1. " + killsTitle(r, s))
        if r.entries.isEmpty {
            out += wrap(noKills(r, s), indent: 0)
        } else {
            if r.signalKillsTotal > r.kills.count {
                out += "The \(r.kills.count) newest of \(r.signalKillsTotal) are shown; narrow the window or the target for the rest.\n\n"
            }
            out += blocks(r.entries).map { b in wrap(headline(b, s), indent: 2) + fields(details(b, ctx, s)) }
                .joined(separator: "\n")
        }
        if !r.cgroupKills.isEmpty { out += "\n" + r.cgroupKills.map { wrap(oomd($0, ctx, s), indent: 2) }.joined() }
        for line in places(r, s) { out += "\n" + wrap(line, indent: 2) }

        out += heading("2. Other signals from these senders")
        if r.senders.isEmpty {
            out += "No kills, so no senders to follow.\n"
        } else {
            out += "Every other signal each sender sent in the window (liveness probes left out).\n"
            for sender in r.senders where !sender.activity.isEmpty {
                out += "\n" + wrap(senderName(sender, s), indent: 2)
                for a in sender.activity.prefix(activityShown) {
                    out += wrap("  \(a.count)x \(signal(a.signalName, a.signal, s)) to \(target(a, s)): \(outcome(a.success, a.errno, s))", indent: 5)
                    out += "     " + when(a.first, a.last, ctx) + "\n"
                }
                if let more = moreActivity(sender) { out += wrap("  " + more, indent: 5) }
            }
        }

        if let idle = idleSenders(r, s) { out += "\n" + wrap(idle, indent: 2) }

        out += heading("3. Repeated kills")
        if r.patterns.isEmpty {
            out += "No sender \(killVerb(r)) processes of the same name twice in the window.\n"
        } else {
            for (i, p) in r.patterns.enumerated() {
                if i > 0 { out += "\n" }
                out += wrap("\(patternSender(p, s)) \(killVerb(r)) \(s.value(p.targetComm)) \(p.count) times", indent: 2)
                out += "  \(p.processes) process\(p.processes == 1 ? "" : "es"), \(p.senderProcesses) sender pid\(p.senderProcesses == 1 ? "" : "s")\n"
                out += "  " + when(p.first, p.last, ctx) + "\n"
            }
        }

        out += heading("4. Failed attempts")
        if r.failed.isEmpty {
            out += "No failed attempt \(r.query.hasTarget ? "on the target " : "")in the window.\n"
        } else {
            if r.failedTotal > r.failed.count { out += "The \(r.failed.count) newest of \(r.failedTotal) are shown.\n" }
            for (i, f) in r.failed.enumerated() {
                if i > 0 { out += "\n" }
                out += wrap("\(local(f.eventTime, ctx))  \(signal(f.signalName, f.signal, s))\(f.targetPid == nil ? "," : " to") \(target(f, s)): \(outcome(f.success, f.errno, s))", indent: 2)
                var lines = [("by", sender(f, s)), ("user", user(f, ctx, s))]
                if let cmd = f.senderCmdline { lines.append(("command", s.value(cmd))) }
                out += fields(lines)
            }
        }

        out += heading("5. Coverage")
        out += coverage(r.coverage, ctx, s).map { wrap($0, indent: 2) }.joined()
        return unglue(out)
    }

    /// `  label     value` lines, the value wrapped under itself.
    static func fields(_ list: [(String, String)]) -> String {
        list.map { wrap("  " + $0.0.padded(to: 10) + $0.1, indent: 12) }.joined()
    }

    /// Breaks `line` at spaces to fit `width` columns; continuation lines are indented, so
    /// text from a log can never start a line where a label or heading would be. A word
    /// longer than the width is left whole (a path cut in two cannot be copied).
    static func wrap(_ line: String, indent: Int, width: Int = 80) -> String {
        // Glued spaces (times, "resolved here") are not break points.
        guard line.count > width else { return line + "\n" }
        let pad = String(repeating: " ", count: indent)
        let leading = line.prefix { $0 == " " }
        var out = "", current = String(leading), fresh = true
        var length = leading.count  // of `current`, in characters: counting it again each word is quadratic
        for word in line.dropFirst(leading.count).split(separator: " ", omittingEmptySubsequences: false) {
            let n = word.count
            if !fresh && length + 1 + n > width {
                out += current + "\n"
                current = pad + word
                length = indent + n
            } else {
                current += (fresh ? "" : " ") + word
                length += (fresh ? 0 : 1) + n
            }
            fresh = false
        }
        return out + current + "\n"
    }

    /// Stands for a space that must not be broken. SafeText writes a raw 0x01 as `\x01`, so
    /// the only ones in a report are killdb's own.
    static let glue = "\u{1}"
    // Byte by byte: both are ASCII, and Foundation's replacingOccurrences costs more than
    // the whole query behind a report.
    static func keep(_ s: String) -> String { String(decoding: s.utf8.map { $0 == 0x20 ? 0x01 : $0 }, as: UTF8.self) }
    static func unglue(_ s: String) -> String { String(decoding: s.utf8.map { $0 == 0x01 ? 0x20 : $0 }, as: UTF8.self) }
    static func local(_ t: Double, _ ctx: Context) -> String { keep(Clock.local(t, ctx.timeZone)) }

    static func heading(_ title: String) -> String {
        "\n" + title + "\n" + String(repeating: "-", count: title.count) + "\n"
    }

    // MARK: - Markdown

    public static func markdown(_ r: Incident, _ ctx: Context) -> String {
        let s = Style.markdown, t = Style.markdownTable
        var out = "# killdb incident report\n\n"
        for (label, value) in header(r, ctx, s) { out += "- **\(label):** " + value.joined(separator: " — ") + "\n" }

        out += "\n## Summary\n\n" + summary(r, ctx, s).map { "- " + $0 + "\n" }.joined()

        out += "\n## 1. " + killsTitle(r, s) + "\n\n"
        if r.entries.isEmpty {
            out += noKills(r, s) + "\n"
        } else {
            if r.signalKillsTotal > r.kills.count {
                out += "The \(r.kills.count) newest of \(r.signalKillsTotal) are shown; narrow the window or the target for the rest.\n\n"
            }
            out += blocks(r.entries).map { b in
                "### " + headline(b, s) + "\n\n"
                    // The processes a group kill reached: one nested bullet each.
                    + details(b, ctx, s).map { f -> String in
                        if b.count > 1, f.0 == "reached" { return "- **reached:**\n  - \(f.1)\n" }
                        return f.0.isEmpty ? "  - \(f.1)\n" : "- **\(f.0):** \(f.1)\n"
                    }.joined()
            }.joined(separator: "\n")
        }
        if !r.cgroupKills.isEmpty { out += "\n" + r.cgroupKills.map { "- " + oomd($0, ctx, s) + "\n" }.joined() }
        let grouped = places(r, s)
        if !grouped.isEmpty { out += "\n" + grouped.map { $0 + "\n" }.joined() }

        out += "\n## 2. Other signals from these senders\n\n"
        if r.senders.isEmpty {
            out += "No kills, so no senders to follow.\n"
        } else {
            out += "Every other signal each sender sent in the window (liveness probes left out).\n\n"
            if r.senders.contains(where: { !$0.activity.isEmpty }) {
                out += "| Sender | Count | Signal | Target | Result | First | Last |\n|---|--:|---|---|---|---|---|\n"
            }
            for sender in r.senders {
                let name = senderName(sender, t)
                for a in sender.activity.prefix(activityShown) {
                    out += "| \(name) | \(a.count) | \(signal(a.signalName, a.signal, t)) | \(target(a, t)) | \(outcome(a.success, a.errno, t)) | "
                    out += "\(local(a.first, ctx)) | \(local(a.last, ctx)) |\n"
                }
                if let more = moreActivity(sender) { out += "| \(name) | | \(more) | | | | |\n" }
            }
        }

        if let idle = idleSenders(r, s) { out += "\n" + idle + "\n" }

        out += "\n## 3. Repeated kills\n\n"
        if r.patterns.isEmpty {
            out += "No sender \(killVerb(r)) processes of the same name twice in the window.\n"
        } else {
            out += "| Sender | Target name | Kills | Processes | Sender pids | First | Last |\n|---|---|--:|--:|--:|---|---|\n"
            for p in r.patterns {
                out += "| \(patternSender(p, t)) | \(t.value(p.targetComm)) | \(p.count) | \(p.processes) | \(p.senderProcesses) | "
                out += "\(local(p.first, ctx)) | \(local(p.last, ctx)) |\n"
            }
        }

        out += "\n## 4. Failed attempts\n\n"
        if r.failed.isEmpty {
            out += "No failed attempt \(r.query.hasTarget ? "on the target " : "")in the window.\n"
        } else {
            if r.failedTotal > r.failed.count { out += "The \(r.failed.count) newest of \(r.failedTotal) are shown.\n\n" }
            out += "| Time | Signal | Target | Result | Sender | User | Command |\n|---|---|---|---|---|---|---|\n"
            for f in r.failed {
                out += "| \(local(f.eventTime, ctx)) | \(signal(f.signalName, f.signal, t)) | \(target(f, t)) | "
                out += "\(outcome(f.success, f.errno, t)) | \(sender(f, t)) | \(user(f, ctx, t)) | \(f.senderCmdline.map(t.value) ?? "") |\n"
            }
        }

        out += "\n## 5. Coverage\n\n"
        out += coverage(r.coverage, ctx, s).map { "- " + $0 + "\n" }.joined()
        return unglue(out)
    }

    // MARK: - JSON

    /// One object; events use the `signals` view's column names, as `who --format json`.
    public static func json(_ r: Incident, _ ctx: Context) -> String {
        func real(_ v: Double?) -> String { v.map { JSON.value(.real($0)) } ?? "null" }
        func int(_ v: Int64?) -> String { v.map(String.init) ?? "null" }
        func text(_ b: [UInt8]?) -> String { b.map(JSON.string) ?? "null" }
        func str(_ s: String?) -> String { s.map { JSON.string(Array($0.utf8)) } ?? "null" }
        func events(_ rows: [SignalRow]) -> String {
            rows.isEmpty ? "[]" : "[\n" + rows.map { "    " + JSON.object(zip(SignalRow.outputColumns, $0.cells.map(JSON.value)).map { ($0, $1) }) }
                .joined(separator: ",\n") + "\n  ]"
        }
        let q = r.query
        let signals: String
        switch q.signals {
        case .all: signals = "\"all\""
        case .only(let n): signals = "[" + n.map(String.init).joined(separator: ",") + "]"
        }
        let c = r.coverage
        var members: [(String, String)] = [
            ("report", str("killdb incident report")),
            ("generated_at", real(ctx.generatedAt)), ("generated_at_utc", JSON.utc(ctx.generatedAt)),
            ("database", str(ctx.database)),
            ("window", JSON.object([("start", real(q.start)), ("end", real(q.before)), ("seconds", real(q.window)),
                                    ("start_utc", str(Clock.utc(q.start))), ("end_utc", str(Clock.utc(q.before)))])),
            ("target", JSON.object([("pid", int(q.targetPid)), ("comm", str(q.targetComm)), ("signals", signals),
                                    ("node", str(q.node))])),
            ("kills_total", String(r.killsTotal)),
            ("kills", events(r.kills)),
            ("sender_activity", "[" + r.senders.map { sndr in
                "\n    " + JSON.object([
                    ("node", text(sndr.node)), ("sender_pid", int(sndr.pid)), ("sender_comm", text(sndr.comm)),
                    ("sender_exe", text(sndr.exe)),
                    ("signals", "[" + sndr.activity.map { a in
                        JSON.object(JSON.timed([("signal", int(a.signal)), ("signal_name", str(a.signalName)), ("target_pid", int(a.targetPid)),
                                     ("target_comm", text(a.targetComm)), ("target_arg", int(a.targetArg)), ("success", a.success.map { $0 ? "1" : "0" } ?? "null"),
                                     ("errno", str(a.errno)), ("count", String(a.count)), ("first_time", real(a.first)),
                                     ("last_time", real(a.last))]))
                    }.joined(separator: ",") + "]"),
                ])
            }.joined(separator: ",") + (r.senders.isEmpty ? "]" : "\n  ]")),
            ("repeated_kills", "[" + r.patterns.map { p in
                "\n    " + JSON.object(JSON.timed([
                    ("node", text(p.node)), ("sender_exe", text(p.senderExe)), ("sender_comm", text(p.senderComm)),
                    ("target_comm", text(p.targetComm)), ("count", String(p.count)), ("processes", String(p.processes)),
                    ("sender_processes", String(p.senderProcesses)), ("first_time", real(p.first)), ("last_time", real(p.last)),
                ]))
            }.joined(separator: ",") + (r.patterns.isEmpty ? "]" : "\n  ]")),
            ("kernel_kills", "[" + r.kernelKills.map { k in "\n    " + JSON.object(JSON.timed(JSON.members(k))) }.joined(separator: ",")
                + (r.kernelKills.isEmpty ? "]" : "\n  ]")),
            ("systemd_kills", "[" + (r.systemdKills + r.cgroupKills).map { a in "\n    " + JSON.object(JSON.timed(JSON.members(a))) }
                .joined(separator: ",") + (r.systemdKills.isEmpty && r.cgroupKills.isEmpty ? "]" : "\n  ]")),
            ("systemd_context", "[" + r.entries.compactMap { kill -> String? in
                guard let k = kill.signal, let c = kill.journal else { return nil }
                return JSON.object([("event_id", str(k.eventID)), ("target_pid", int(k.targetPid)), ("unit", text(c.unit)),
                                    ("reason", str(c.reason))])
            }.joined(separator: ",") + "]"),
            ("failed_total", String(r.failedTotal)),
            ("failed", events(r.failed)),
            ("coverage", JSON.object(JSON.timed([
                ("first_event_time", real(c.database.firstEventTime)), ("last_event_time", real(c.database.lastEventTime)),
                ("last_ingest", real(c.database.lastIngest)), ("last_ingest_utc", JSON.utc(c.database.lastIngest)),
                ("signal_events", String(c.database.signalEvents)),
                ("kernel_log", JSON.object(JSON.timed([("first_time", real(c.kernel.firstTime)), ("last_time", real(c.kernel.lastTime)),
                                            ("sources", "[" + c.kernel.sources.map(str).joined(separator: ",") + "]"),
                                            ("kernel_kills", String(c.kernel.kills + c.kernel.fromAudit))]))),
                ("uncovered", "[" + c.uncovered.map {
                    JSON.object([("start", real($0.start)), ("start_utc", JSON.utc($0.start)), ("end", real($0.end)), ("end_utc", JSON.utc($0.end))])
                }.joined(separator: ",") + "]"),
                ("lost_events", "[" + c.database.lostEvents.map {
                    JSON.object(JSON.timed([("node", str($0.node)), ("after_time", real($0.after)), ("before_time", real($0.before)),
                                 ("missing", String($0.missing))]))
                }.joined(separator: ",") + "]"),
            ]))),
        ]
        // Names looked up on this host for uids the log did not name (not evidence: this
        // host's user database may differ from the one that logged the event).
        var resolved: [Int64: String] = [:]
        for row in r.kills + r.failed {
            for (uid, logged) in [(row.senderUid, row.senderUidName), (row.senderAuid, row.senderAuidName),
                                  (row.senderEuid, row.senderEuidName), (row.targetUid, row.targetUidName),
                                  (row.targetAuid, row.targetAuidName)] {
                if let uid, logged == nil, uid != AuditField.unsetID, resolved[uid] == nil, let name = ctx.users(uid) { resolved[uid] = name }
            }
        }
        // The tracer's records (kills of their own, or corroborating another record), only
        // when there are any: reports of databases the tracer never wrote to are unchanged.
        let traced = r.entries.compactMap { kill -> String? in
            guard let t = kill.traced else { return nil }
            var m = JSON.timed(JSON.members(t))
            switch kill.primary {
            case .signal(let k): m.append(("joined_to", str("audit event " + k.eventID)))
            case .kernel: m.append(("joined_to", str("kernel log")))
            case .systemd, .traced: m.append(("joined_to", "null"))
            }
            return JSON.object(m)
        }
        if !traced.isEmpty {
            members.insert(("traced_kills", "[" + traced.map { "\n    " + $0 }.joined(separator: ",") + "\n  ]"),
                           at: members.firstIndex { $0.0 == "failed_total" } ?? members.count)
        }
        // Only when some kill's processes were read: other reports are unchanged.
        let byPlace = r.killsByPlace
        if !byPlace.isEmpty {
            members.insert(("kills_by_place", "[" + byPlace.map {
                "\n    " + JSON.object([("side", str($0.side.rawValue)), ("kind", str($0.kind.rawValue)),
                                        ("name", text($0.name)), ("kills", String($0.count))])
            }.joined(separator: ",") + "\n  ]"), at: members.firstIndex { $0.0 == "failed_total" } ?? members.count)
        }
        members.append(("users_resolved_here", JSON.object(resolved.sorted { $0.key < $1.key }.map { (String($0.key), str($0.value)) })))
        return "{\n" + members.map { "  " + JSON.string(Array($0.0.utf8)) + ": " + $0.1 }.joined(separator: ",\n") + "\n}\n"
    }

    // MARK: - Summary and blocks

    /// What fits a screen before the details: how many kills, by whom, of what, the failed
    /// attempts, and what the database cannot vouch for.
    static func summary(_ r: Incident, _ ctx: Context, _ s: Style) -> [String] {
        var lines: [String] = []
        let verb = killVerb(r) == "killed" ? "Kills" : "Signals delivered"
        guard !r.entries.isEmpty else {
            lines.append(noKills(r, s))
            lines.append("Failed attempts: \(r.failedTotal)" + (r.failedTotal > 0 ? " (section 4)." : "."))
            return lines + caveats(r, ctx, s)
        }
        var line = "\(verb): \(r.killsTotal) in the window"
        if r.signalKillsTotal > r.kills.count { line += " (the \(r.entries.count) newest counted below)" }
        lines.append(line + ".")
        // Senders by signal sent (a process-group kill once), targets by process reached.
        let all = blocks(r.entries)
        lines.append("By: " + ranked(all.map { summarySender($0[0], s) }) + ".")
        lines.append("Of: " + ranked(r.entries.map { summaryTarget($0, s) }) + ".")
        let groups = all.filter { $0.count > 1 }
        if !groups.isEmpty {
            let reached = groups.map(\.count).reduce(0, +)
            lines.append("\(groups.count) signal\(groups.count == 1 ? "" : "s") reached several processes at once (a process group or kill(-1)): \(reached) processes in all.")
        }
        lines.append("Failed attempts: \(r.failedTotal)" + (r.failedTotal > 0 ? " (section 4)." : "."))
        return lines + caveats(r, ctx, s)
    }

    /// `a (3), b (2), c (1)`, most first then by name; past five, how many more.
    static func ranked(_ names: [String]) -> String {
        var counts: [String: Int] = [:]
        for n in names { counts[n, default: 0] += 1 }
        let sorted = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        var out = sorted.prefix(5).map { "\($0.key) (\($0.value))" }
        if sorted.count > 5 { out.append("and \(sorted.count - 5) more") }
        return out.joined(separator: ", ")
    }

    static func summarySender(_ k: Kill, _ s: Style) -> String {
        switch k.primary {
        case .signal(let r):
            if r.senderPid != nil, r.senderPid == r.targetPid { return "the target itself" }
            return r.senderExe.map(s.value) ?? r.senderComm.map(s.value) ?? "pid \(r.senderPid.map(String.init) ?? "?")"
        case .kernel(let kk):
            switch kk.kind {
            case .oom, .memcgOOM: return "the kernel's OOM killer"
            case .seccomp: return "a seccomp filter"
            case .abend: return "the kernel (a fatal signal)"
            }
        case .systemd: return "systemd (PID 1)"
        case .traced(let t): return t.senderExe.map(s.value) ?? t.senderComm.map(s.value) ?? "pid \(t.senderPid)"
        }
    }

    static func summaryTarget(_ k: Kill, _ s: Style) -> String {
        let comm: [UInt8]?
        switch k.primary {
        case .signal(let r): comm = r.targetComm
        case .kernel(let kk): comm = kk.comm
        case .systemd(let a): comm = a.comm
        case .traced(let t): comm = t.targetComm
        }
        return comm.map(s.value) ?? "a process of unknown name"
    }

    /// The coverage lines worth a caveat, in short: nothing when the database covers it all.
    static func caveats(_ r: Incident, _ ctx: Context, _ s: Style) -> [String] {
        var out: [String] = []
        let c = r.coverage
        if c.database.firstEventTime == nil {
            out.append("Coverage: the database holds no ingested logs.")
        } else if c.uncovered.isEmpty {
            out.append("Coverage: the whole window lies within the ingested logs.")
        } else {
            let spans = c.uncovered.map { "\(local($0.start, ctx)) to \(local($0.end, ctx))" }.joined(separator: " and ")
            out.append("NOT COVERED: \(spans): nothing is known there (section 5).")
        }
        let lost = c.database.lostEvents.map(\.missing).reduce(0, +)
        if lost > 0 { out.append("LOST: \(lost) audit event\(lost == 1 ? "" : "s") missing in the window (section 5).") }
        if c.kernel.firstTime == nil {
            out.append("The kernel log was never ingested: kills by the kernel cannot be ruled out.")
        } else if let first = c.kernel.firstTime, let last = c.kernel.lastTime, first > c.start || last < c.end {
            out.append("The kernel log covers only \(local(max(first, c.start), ctx)) to \(local(min(last, c.end), ctx)) of the window.")
        }
        return out
    }

    /// The entries, each audit event once: a kill of a process group (or kill(-1)) is one
    /// event reaching several processes, one row per target; they make one block.
    static func blocks(_ entries: [Kill]) -> [[Kill]] {
        var out: [[Kill]] = []
        for e in entries {
            if let r = e.signal, let last = out.last?.last?.signal, last.eventID == r.eventID, last.node == r.node {
                out[out.count - 1].append(e)
            } else {
                out.append([e])
            }
        }
        return out
    }

    static func headline(_ block: [Kill], _ s: Style) -> String {
        guard block.count > 1, let r = block[0].signal else { return KillDescription.headline(block[0], s, at: nil) }
        return "\(signal(r.signalName, r.signal, s)) to \(requested(r.targetArg, r.pidfd)): \(block.count) processes reached"
    }

    /// A block's fields: the first row's, its `target` line replaced by every process reached.
    static func details(_ block: [Kill], _ ctx: Context, _ s: Style) -> [(String, String)] {
        var f = details(block[0], ctx, s)
        guard block.count > 1 else { return f }
        let reached = block.compactMap(\.signal).map { r -> String in
            var line = target(r, s)
            if let uid = r.targetUid {
                line += ": uid \(KillDescription.name(uid, r.targetUidName, s, ctx.users)), login uid "
                    + "\(KillDescription.name(r.targetAuid, r.targetAuidName, s, ctx.users)), session \(KillDescription.id(r.targetSes))"
            }
            return line
        }
        let at = f.firstIndex { $0.0 == "target" } ?? (f.firstIndex { $0.0 == "via" }.map { $0 + 1 } ?? f.count)
        f.removeAll { $0.0 == "target" }
        f.insert(contentsOf: reached.enumerated().map { ($0.offset == 0 ? "reached" : "", $0.element) }, at: min(at, f.count))
        return f
    }

    /// Kinds of activity (signal, target, outcome) shown per sender in text and Markdown.
    /// Past these, a sender that killed a thousand processes besides would bury the report
    /// (a month of a busy host: 100 senders, 12,000 lines); JSON lists every one.
    static let activityShown = 10

    /// "and 50 more (150 signals); --format json lists every one", when the list was cut.
    static func moreActivity(_ sender: Incident.SenderActivity) -> String? {
        let rest = sender.activity.dropFirst(activityShown)
        guard !rest.isEmpty else { return nil }
        let signals = rest.map(\.count).reduce(0, +)
        return "and \(rest.count) more (\(signals) signal\(signals == 1 ? "" : "s")); --format json lists every one"
    }

    /// The senders that sent nothing else, said once.
    static func idleSenders(_ r: Incident, _ s: Style) -> String? {
        let idle = r.senders.filter(\.activity.isEmpty)
        guard !idle.isEmpty else { return nil }
        let names = idle.map { senderName($0, s) }.joined(separator: "; ")
        if idle.count == r.senders.count {
            return "None of the senders sent anything else in the window: \(names)."
        }
        return "Nothing else in the window from \(names)."
    }

    // MARK: - Pieces shared by text and Markdown

    typealias Style = TextStyle

    static func header(_ r: Incident, _ ctx: Context, _ s: Style) -> [(String, [String])] {
        let q = r.query
        var target = q.signals == .all ? "any signal" : q.signals.names
        if let p = q.targetPid { target += " to pid \(p)" }
        if let c = q.targetComm { target += " to processes named " + s.value(Array(c.utf8)) }
        if !q.hasTarget { target += " to any process" }
        if let n = q.node { target += " on node " + s.value(Array(n.utf8)) }
        return [
            ("Window", ["\(local(q.start, ctx)) to \(local(q.before, ctx)) (\(duration(q.window)))",
                        "\(Clock.utc(q.start)) to \(Clock.utc(q.before))"]),
            ("Target", [target]),
            ("Database", [s.value(Array(ctx.database.utf8))]),
            ("Generated", [local(ctx.generatedAt, ctx)]),
        ]
    }

    static func killsTitle(_ r: Incident, _ s: Style) -> String {
        let q = r.query
        if q.signals == .only([9]) { return "Kills \(q.hasTarget ? "of the target " : "")in the window: \(r.killsTotal)" }
        let what = q.signals == .all ? "Signals" : q.signals.names
        return "\(what) sent \(q.hasTarget ? "to the target" : "to any process") in the window: \(r.killsTotal)"
    }

    static func killVerb(_ r: Incident) -> String {
        r.query.signals == .only([9]) ? "killed" : "signalled"
    }

    static func noKills(_ r: Incident, _ s: Style) -> String {
        var line = "Nothing found: no \(r.query.signals.names) was sent \(r.query.hasTarget ? "to the target" : "to any process") in the window."
        if !r.failed.isEmpty { line += " See the failed attempts below." }
        if !r.coverage.uncovered.isEmpty || !r.coverage.database.lostEvents.isEmpty {
            line += " The database does not cover all of the window: see the coverage below."
        }
        return line
    }

    /// "Kills by where their target lived: 2 in pod shop/cart-7d9, 1 in app.service", and
    /// the same by sender; nothing when no kill's processes were read.
    static func places(_ r: Incident, _ s: Style) -> [String] {
        let all = r.killsByPlace
        var out: [String] = []
        for side in [PlaceCount.Side.target, .sender] {
            let these = all.filter { $0.side == side }
            guard !these.isEmpty else { continue }
            let list = these.map { p in
                "\(p.count) \(p.kind == .unit ? "in" : p.kind == .pod ? "in pod" : "in container") \(s.value(p.name))"
            }
            out.append("Kills by where their \(side == .target ? "target" : "sender") lived: " + list.joined(separator: ", ") + ".")
        }
        return out
    }

    /// A kill's fields as section 1 lists them: the time first, the headline lacking it.
    static func details(_ e: Kill, _ ctx: Context, _ s: Style) -> [(String, String)] {
        KillDescription.fields(e, s, users: ctx.users, time: keep(Clock.both(e.time, ctx.timeZone)))
    }

    static func oomd(_ a: SystemdKillRow, _ ctx: Context, _ s: Style) -> String {
        KillDescription.cgroupKill(a, s, at: local(a.eventTime, ctx)) + "; it names no process."
    }

    static func signal(_ name: String?, _ number: Int64?, _ s: Style) -> String { KillDescription.signal(name, number, s) }
    static func target(_ r: SignalRow, _ s: Style) -> String { KillDescription.target(r, s) }

    static func target(_ a: Incident.Activity, _ s: Style) -> String {
        if let pid = a.targetPid { return "pid \(pid)" + (a.targetComm.map { " (\(s.value($0)))" } ?? "") }
        return requested(a.targetArg, nil)
    }

    static func requested(_ arg: Int64?, _ pidfd: Int64?) -> String { KillDescription.requested(arg, pidfd) }

    static func outcome(_ success: Bool?, _ errno: String?, _ s: Style) -> String {
        success == false ? "failed, " + s.word(errno ?? "error") : "accepted"
    }

    static func sender(_ r: SignalRow, _ s: Style) -> String { KillDescription.sender(r, s) }

    static func senderName(_ a: Incident.SenderActivity, _ s: Style) -> String {
        var out = "pid" + s.glue + (a.pid.map(String.init) ?? "?")
        if let c = a.comm { out += " (\(s.value(c)))" }
        if let e = a.exe { out += " " + s.value(e) }
        if let n = a.node { out += " on node " + s.value(n) }
        return out
    }

    static func patternSender(_ p: Incident.RepeatedKill, _ s: Style) -> String {
        var out = p.senderExe.map(s.value) ?? p.senderComm.map { "a process named " + s.value($0) } ?? "?"
        if p.senderExe != nil, let c = p.senderComm { out += " (\(s.value(c)))" }
        if let n = p.node { out += " on node " + s.value(n) }
        return out
    }

    static func when(_ first: Double, _ last: Double, _ ctx: Context) -> String {
        first == last ? "at \(local(first, ctx))"
            : "first \(local(first, ctx)), last \(local(last, ctx))"
    }

    static func user(_ r: SignalRow, _ ctx: Context, _ s: Style) -> String { KillDescription.user(r, s, ctx.users) }

    static func coverage(_ c: WindowCoverage, _ ctx: Context, _ s: Style) -> [String] {
        var lines: [String] = []
        let d = c.database
        if let first = d.firstEventTime, let last = d.lastEventTime {
            var line = "Ingested logs hold events from \(local(first, ctx)) to \(local(last, ctx))"
            line += ", \(d.signalEvents) signal event\(d.signalEvents == 1 ? "" : "s") in all"
            if let ingest = d.lastIngest { line += "; last ingest \(local(ingest, ctx))" }
            lines.append(line + ".")
        } else {
            lines.append("The database holds no ingested logs: run `killdb ingest`.")
        }
        if c.uncovered.isEmpty {
            lines.append("The whole window lies within the ingested logs.")
        }
        for span in c.uncovered {
            lines.append("NOT COVERED: \(local(span.start, ctx)) to \(local(span.end, ctx)) (\(duration(span.end - span.start))): no logs of that time were ingested, so nothing can be said about it.")
        }
        if d.lostEvents.isEmpty {
            lines.append("No lost events are recorded in the window.")
        }
        let k = c.kernel
        if let first = k.firstTime, let last = k.lastTime {
            lines.append("The kernel log (\(k.sources.joined(separator: ", "))) was read from \(local(first, ctx)) to \(local(last, ctx)): kills by the kernel (the OOM killer) outside that span are unknown.")
        } else {
            lines.append("The kernel log was never ingested: kills by the kernel (the OOM killer) cannot be ruled out.")
        }
        lines += WhoReport.traceCoverage(c.tracer, from: c.start, to: c.end, ctx.timeZone)
        for lost in d.lostEvents {
            var line = "LOST: \(lost.missing) audit event\(lost.missing == 1 ? "" : "s") missing between \(local(lost.after, ctx)) and \(local(lost.before, ctx))"
            if let n = lost.node { line += " on node " + s.value(Array(n.utf8)) }
            lines.append(line + " (lost or never logged): the report may be incomplete there.")
        }
        return lines
    }

    /// `1h`, `1h 30m`, `45s`, `2d 3h`, glued so a wrap cannot split it.
    static func duration(_ seconds: Double) -> String { Quantity.exactDuration(seconds, separator: glue) }
}

/// Markdown that cannot be turned into markup by the text it carries.
public enum MarkdownText {
    /// `text` as an inline code span: nothing inside is markup. The fence is one backtick
    /// longer than any run of backticks inside; in a table cell `|` is written `\|`, which
    /// GFM takes out before it reads the cell (so it does not split it).
    public static func code(_ text: String, inTable: Bool) -> String {
        if text.isEmpty { return "*(empty)*" }
        var body = inTable ? text.replacingOccurrences(of: "|", with: "\\|") : text
        var longest = 0, run = 0
        for ch in body { run = ch == "`" ? run + 1 : 0; longest = max(longest, run) }
        let fence = String(repeating: "`", count: longest + 1)
        // A leading or trailing backtick would merge with the fence; a space on each side is
        // stripped again by the parser (and keeps leading/trailing spaces as they were),
        // except around content of spaces only, which is kept as it is.
        if body.contains(where: { $0 != " " }),
           body.first == "`" || body.last == "`" || body.first == " " || body.last == " " { body = " " + body + " " }
        return fence + body + fence
    }

    /// Plain text with every character that could start markup backslash-escaped (`_` and
    /// `.` only matter at a word's edge, which names like `x86_64` or `SIGRTMIN+3` lack, but
    /// are escaped anyway: this is for short words, not prose).
    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            if ch.isASCII, ch.isPunctuation || ch.isSymbol, !"-+:,()".contains(ch) { out += "\\" }
            out.append(ch)
        }
        return out
    }
}
