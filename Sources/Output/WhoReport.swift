import Foundation
import Queries

extension SignalRow {
    /// The row as cells, in `SignalRow.columns` order.
    public var cells: [Cell] {
        func t(_ b: [UInt8]?) -> Cell { b.map(Cell.text) ?? .null }
        func t(_ s: String?) -> Cell { s.map { Cell.text(Array($0.utf8)) } ?? .null }
        func i(_ v: Int64?) -> Cell { v.map(Cell.integer) ?? .null }
        func b(_ v: Bool?) -> Cell { v.map { Cell.integer($0 ? 1 : 0) } ?? .null }
        return [t(node), .real(eventTime), t(eventID), .integer(serial), t(arch), t(syscall), i(signal),
                t(signalName), b(probe), b(success), i(exit), t(errno), i(targetArg), i(tgidArg), i(pidfd),
                i(senderPid), i(senderPpid), i(senderUid), i(senderAuid), i(senderEuid), i(senderSes),
                t(senderTty), t(senderComm), t(senderExe), t(senderCmdline), t(senderUidName),
                t(senderAuidName), t(senderEuidName), i(targetPid), i(targetUid), i(targetAuid), i(targetSes),
                t(targetComm), t(targetUidName), t(targetAuidName), t(key)]
    }
}

/// Resolves a uid to a user name on this host (used when the log was not ENRICHED).
public typealias UserNames = @Sendable (Int64) -> String?

public enum LocalUsers {
    public static let lookup: UserNames = { uid in
        guard uid >= 0, uid < 4294967295, let pw = getpwuid(uid_t(uid)) else { return nil }
        return String(cString: pw.pointee.pw_name)
    }
}

/// What `killdb who` prints.
public enum WhoReport {
    public struct Context: Sendable {
        public var question: String
        public var timeZone: TimeZone
        public var users: UserNames
        /// ANSI colour: only on a terminal and never with NO_COLOR (`Terminal.colour`).
        public var colour: Bool
        public init(question: String, timeZone: TimeZone = .current, users: @escaping UserNames = LocalUsers.lookup,
                    colour: Bool = false) {
            self.question = question
            self.timeZone = timeZone
            self.users = users
            self.colour = colour
        }

        func bold(_ s: String) -> String { colour ? "\u{1b}[1m\(s)\u{1b}[0m" : s }
        func red(_ s: String) -> String { colour ? "\u{1b}[1;31m\(s)\u{1b}[0m" : s }
        func yellow(_ s: String) -> String { colour ? "\u{1b}[33m\(s)\u{1b}[0m" : s }
    }

    public static func text(_ answer: WhoAnswer, _ ctx: Context) -> String {
        var out = ""
        guard let first = answer.rows.first else {
            out += "No \(ctx.question) is on record.\n"
            out += notes(answer, ctx)
            return out
        }
        out += ctx.bold(headline(first, ctx)) + "\n"
        out += details(first, ctx)
        let others = answer.rows.dropFirst()
        if !others.isEmpty {
            out += "\nEarlier candidates, newest first:\n"
            out += Table.render(columns: ["time", "signal", "target", "sender", "command", "result"],
                                rows: others.map { row(for: $0, ctx, reference: first) }, width: Terminal.width())
        }
        out += notes(answer, ctx)
        return out
    }

    static func headline(_ r: SignalRow, _ ctx: Context) -> String {
        let sig = r.signalName ?? "signal ?"
        var line = "\(sig) to \(target(r)) at \(Clock.local(r.eventTime, ctx.timeZone)) (\(Clock.utc(r.eventTime)))"
        if r.success == false { line += ": " + ctx.red("FAILED (\(r.errno ?? "error"))") }
        return line
    }

    static func target(_ r: SignalRow) -> String {
        if let pid = r.targetPid {
            return "pid \(pid)" + (r.targetComm.map { " (\(SafeText.escape($0)))" } ?? "")
        }
        if let arg = r.targetArg {
            if arg == -1 { return "every process it may signal (pid -1)" }
            if arg < -1 { return "process group \(-arg)" }
            return "pid \(arg)"
        }
        if let fd = r.pidfd { return "the process behind pidfd \(fd)" }
        return "an unrecorded target"
    }

    static func details(_ r: SignalRow, _ ctx: Context) -> String {
        var out = ""
        func field(_ name: String, _ value: String) { out += "  " + name.padding(toLength: 10, withPad: " ", startingAt: 0) + value + "\n" }
        var sender = "pid \(r.senderPid.map(String.init) ?? "?")"
        if let c = r.senderComm { sender += " (\(SafeText.escape(c)))" }
        if let e = r.senderExe { sender += " " + SafeText.escape(e) }
        field("sent by", sender)
        if let cmd = r.senderCmdline { field("command", SafeText.escape(cmd)) }
        field("user", user(r, ctx))
        var session = "session \(id(r.senderSes))"
        session += ", tty " + (r.senderTty.map { SafeText.escape($0) } ?? "none")
        if let ppid = r.senderPpid { session += ", parent pid \(ppid)" }
        field("context", session)
        var via = "\(r.syscall)("
        switch r.syscall {
        case "tgkill", "rt_tgsigqueueinfo": via += "\(r.tgidArg.map(String.init) ?? "?"), \(r.targetArg.map(String.init) ?? "?")"
        case "pidfd_send_signal": via += "pidfd \(r.pidfd.map(String.init) ?? "?")"
        default: via += r.targetArg.map(String.init) ?? "?"
        }
        via += ", \(r.signalName ?? "?")) on \(r.arch): "
        via += r.success == false ? "failed, \(r.errno ?? "exit \(r.exit.map(String.init) ?? "?")")" : "delivered"
        field("via", via)
        if let uid = r.targetUid {
            field("target", "uid \(name(uid, r.targetUidName, ctx)), login uid \(name(r.targetAuid, r.targetAuidName, ctx)), session \(id(r.targetSes))")
        }
        var event = "audit event \(r.eventID)"
        if let node = r.node { event += " on node \(SafeText.escape(node))" }
        if let key = r.key { event += ", rule key \(SafeText.escape(key))" }
        field("evidence", event)
        return out
    }

    static func user(_ r: SignalRow, _ ctx: Context) -> String {
        var s = "uid \(name(r.senderUid, r.senderUidName, ctx))"
        if r.senderEuid != r.senderUid { s += ", euid \(name(r.senderEuid, r.senderEuidName, ctx))" }
        s += ", login uid \(name(r.senderAuid, r.senderAuidName, ctx))"
        return s
    }

    /// `0 (root)` from the log's own ENRICHED names; `1000 (alice, resolved here)` when
    /// looked up on this host, which may not be the host that logged it.
    static func name(_ uid: Int64?, _ logged: [UInt8]?, _ ctx: Context) -> String {
        guard let uid else { return "?" }
        if uid == 4294967295 { return "unset" }
        if let logged { return "\(uid) (\(SafeText.escape(logged)))" }
        if let local = ctx.users(uid) { return "\(uid) (\(SafeText.line(local)), resolved here)" }
        return String(uid)
    }

    static func id(_ v: Int64?) -> String {
        guard let v else { return "?" }
        return v == 4294967295 ? "unset" : String(v)
    }

    static func row(for r: SignalRow, _ ctx: Context, reference: SignalRow) -> [Cell] {
        var targetText = target(r)
        if let p = r.targetPid, p == reference.targetPid, r.targetComm != reference.targetComm {
            targetText += " [another process with this pid]"
        }
        let sender = "pid \(r.senderPid.map(String.init) ?? "?")" + (r.senderComm.map { " (\(SafeText.escape($0)))" } ?? "")
        return [.text(Array(Clock.local(r.eventTime, ctx.timeZone).utf8)), .text(Array((r.signalName ?? "?").utf8)),
                .text(Array(targetText.utf8)), .text(Array(sender.utf8)), r.senderCmdline.map(Cell.text) ?? .null,
                .text(Array((r.success == false ? "failed \(r.errno ?? "")" : "delivered").utf8))]
    }

    static func notes(_ answer: WhoAnswer, _ ctx: Context) -> String {
        var out = ""
        if answer.truncated { out += "More matches exist: raise --limit to see them.\n" }
        if answer.hiddenFailed > 0 {
            out += "\(answer.hiddenFailed) failed attempt\(answer.hiddenFailed == 1 ? " is" : "s are") not shown: add --include-failed.\n"
        }
        if answer.hiddenProbes > 0 {
            out += "\(answer.hiddenProbes) liveness probe\(answer.hiddenProbes == 1 ? "" : "s") (signal 0) not shown: add --include-probes.\n"
        }
        out += coverage(answer.coverage, ctx)
        return out
    }

    public static func coverage(_ c: DatabaseCoverage, _ ctx: Context) -> String {
        var out = ""
        if let first = c.firstEventTime, let last = c.lastEventTime {
            out += "Searched: logs from \(Clock.local(first, ctx.timeZone)) to \(Clock.local(last, ctx.timeZone)), \(c.signalEvents) signal event\(c.signalEvents == 1 ? "" : "s") in all"
            if let ingest = c.lastIngest { out += "; last ingest \(Clock.local(ingest, ctx.timeZone))" }
            out += ". Nothing before or after that span was read.\n"
        } else {
            out += "Searched: nothing. The database holds no ingested logs: run `killdb ingest`.\n"
        }
        for lost in c.lostEvents {
            out += ctx.yellow("Warning:") + " \(lost.missing) audit event\(lost.missing == 1 ? "" : "s") missing from the logs between \(Clock.local(lost.after, ctx.timeZone)) and \(Clock.local(lost.before, ctx.timeZone))"
            if let n = lost.node { out += " on node \(SafeText.line(n))" }
            out += " (lost or never logged): the answer may be incomplete there.\n"
        }
        return out
    }
}

public enum Clock {
    /// `2026-11-24 20:02:30.123 CET` in `zone`.
    public static func local(_ epoch: Double, _ zone: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        let date = Date(timeIntervalSince1970: epoch)
        // Foundation calls UTC "GMT"; operators read UTC.
        let name = zone.secondsFromGMT(for: date) == 0 && ["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Universal", "Zulu"]
            .contains(zone.identifier) ? "UTC" : (zone.abbreviation(for: date) ?? zone.identifier)
        return f.string(from: date) + " " + name
    }

    /// `2026-11-24T19:02:30.123Z`.
    public static func utc(_ epoch: Double) -> String { Time.iso(epoch) }
}
