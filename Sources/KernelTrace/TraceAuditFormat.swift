import Foundation

/// Which tracer session a forwarded message belongs to: a session is known by its host,
/// its boot and when it started, on the tracer's host and on every collector.
public struct TraceOrigin: Sendable, Equatable, Hashable {
    /// /proc/sys/kernel/random/boot_id of the traced host.
    public var bootID: String
    /// Epoch seconds of boot there (CLOCK_REALTIME - CLOCK_BOOTTIME).
    public var bootTime: Double
    /// When the session started (epoch seconds, as its trace_sessions row says).
    public var startedAt: Double
    /// The session's signal filter ("SIGKILL", "all" ...).
    public var signals: String
    public init(bootID: String, bootTime: Double, startedAt: Double, signals: String) {
        self.bootID = bootID
        self.bootTime = bootTime
        self.startedAt = startedAt
        self.signals = signals
    }
}

/// One message `killdb trace --audit` writes to the audit system (a USER record), read
/// back by `killdb ingest` on a collector.
public enum TraceAuditMessage: Sendable, Equatable {
    case signal(TracedSignal, TraceOrigin)
    /// The session began, is alive (a heartbeat), or ended; with its totals so far.
    case session(TraceOrigin, state: SessionState, version: String, hostname: String, records: Int, lost: UInt64, time: Double)
    case loss(TraceLoss, TraceOrigin)

    public enum SessionState: String, Sendable, Equatable {
        case start, alive, stop, failed
    }

    public var origin: TraceOrigin {
        switch self {
        case .signal(_, let o), .session(let o, _, _, _, _, _, _), .loss(_, let o): o
        }
    }
}

/// The text of those messages: `op=killdb-trace-signal ver=1 key=value ...`, every value a
/// number, `?` (none) or hex (every string: names and command lines are bytes an
/// unprivileged process chose, and hex cannot end the kernel's `msg='...'` quoting).
/// The kernel puts the writer's pid, uid, auid and session before it; libaudit appends the
/// writer's exe, hostname, addr, terminal and res after it.
public enum TraceAuditFormat {
    public static let version = 1
    /// What every message starts with; a message without it is none of killdb's.
    public static let marker = "op=killdb-trace-"

    // MARK: writing

    public static func text(_ m: TraceAuditMessage) -> String {
        var f: [(String, String)] = []
        switch m {
        case .signal(let s, let o):
            f = [("op", "killdb-trace-signal")] + common(o)
            f += [("ns", String(s.bootNanoseconds)), ("t", time(s.time)), ("sig", String(s.signal)), ("code", String(s.code)),
                  ("grp", s.processDirected ? "1" : "0"), ("result", String(s.result.rawValue)), ("cause", s.cause.name),
                  ("detail", hex(s.cause.detail.map { Array($0.utf8) })),
                  ("cpidns", { if case .pidNamespaceTeardown(let ns) = s.cause { String(ns) } else { "?" } }()),
                  ("sysno", s.syscallNumber.map(String.init) ?? "?")]
            f += task("s", s.sender)
            f += [("sexe", hex(s.exe)), ("sargv", hex(s.argv)), ("strunc", s.argvTruncated ? "1" : "0"),
                  ("skt", s.senderIsKernelThread ? "1" : "0"), ("suid", String(s.uid)), ("seuid", String(s.euid)),
                  ("sauid", String(s.loginUID)), ("sses", String(s.sessionID)),
                  ("ppid", String(s.parent.pid)), ("pst", String(s.parent.startNanoseconds)), ("pcomm", hex(s.parentComm))]
            // Only when missing: sexe and sargv then say "unknown", not "none".
            if s.contextMissing { f.append(("sctx", "0")) }
            f += task("t", s.target)
        case .session(let o, let state, let version, let hostname, let records, let lost, let t):
            f = [("op", "killdb-trace-session")] + common(o)
            f += [("state", state.rawValue), ("t", time(t)), ("kver", hex(Array(version.utf8))),
                  ("host", hex(Array(hostname.utf8))), ("records", String(records)), ("lost", String(lost))]
        case .loss(let l, let o):
            f = [("op", "killdb-trace-loss")] + common(o)
            f += [("from", time(l.from)), ("to", time(l.to)), ("lost", String(l.count))]
        }
        return f.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    static func common(_ o: TraceOrigin) -> [(String, String)] {
        [("ver", String(version)), ("boot", hex(Array(o.bootID.utf8))), ("bt", time(o.bootTime)),
         ("sstart", time(o.startedAt)), ("signals", hex(Array(o.signals.utf8)))]
    }

    static func task(_ p: String, _ t: TracedTask) -> [(String, String)] {
        [("\(p)pid", String(t.process.pid)), ("\(p)tid", String(t.tid)), ("\(p)st", String(t.process.startNanoseconds)),
         ("\(p)comm", hex(t.comm)), ("\(p)cg", String(t.cgroupID)), ("\(p)pidns", String(t.pidNamespace)),
         ("\(p)nspid", String(t.namespacePid))]
    }

    static func time(_ t: Double) -> String { String(format: "%.6f", t) }

    static let digits = Array("0123456789ABCDEF".utf8)
    static func hex(_ b: [UInt8]?) -> String {
        guard let b else { return "?" }
        var out = [UInt8]()
        out.reserveCapacity(b.count * 2)
        for x in b { out.append(digits[Int(x >> 4)]); out.append(digits[Int(x & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: reading

    /// Why a message is not one of killdb's that can be read.
    public enum ReadError: Error, Equatable, CustomStringConvertible {
        case notKilldb
        case version(String)
        case field(String)
        public var description: String {
            switch self {
            case .notKilldb: "not a killdb tracer message"
            case .version(let v): "tracer message format version \(v) (this killdb reads \(TraceAuditFormat.version))"
            case .field(let name): "tracer message with a missing or malformed \(name)"
            }
        }
    }

    /// Reads the text between the kernel's `msg='` and `'`, as `text` wrote it (the fields
    /// libaudit appends are ignored here; the caller checks them).
    public static func read(_ body: [UInt8]) throws(ReadError) -> TraceAuditMessage {
        guard body.starts(with: Array(marker.utf8)) else { throw .notKilldb }
        var fields: [String: [UInt8]] = [:]
        for token in body.split(separator: 0x20) {
            guard let eq = token.firstIndex(of: 0x3d) else { continue }
            let key = String(decoding: token[token.startIndex..<eq], as: UTF8.self)
            if fields[key] == nil { fields[key] = Array(token[(eq + 1)...]) }
        }
        func raw(_ k: String) throws(ReadError) -> String {
            guard let v = fields[k] else { throw .field(k) }
            return String(decoding: v, as: UTF8.self)
        }
        func int<T: FixedWidthInteger>(_ k: String, _: T.Type = T.self) throws(ReadError) -> T {
            guard let v = T(try raw(k)) else { throw .field(k) }
            return v
        }
        func optionalInt<T: FixedWidthInteger>(_ k: String, _: T.Type = T.self) throws(ReadError) -> T? {
            let s = try raw(k)
            if s == "?" { return nil }
            guard let v = T(s) else { throw .field(k) }
            return v
        }
        func double(_ k: String) throws(ReadError) -> Double {
            guard let v = Double(try raw(k)), v.isFinite else { throw .field(k) }
            return v
        }
        func bytes(_ k: String) throws(ReadError) -> [UInt8]? {
            guard let v = fields[k] else { throw .field(k) }
            if v == [0x3f] { return nil }
            guard let b = unhex(v) else { throw .field(k) }
            return b
        }
        func text(_ k: String) throws(ReadError) -> String {
            guard let b = try bytes(k) else { throw .field(k) }
            return String(decoding: b, as: UTF8.self)
        }
        let ver = try raw("ver")
        guard ver == String(version) else { throw .version(ver) }
        let origin = TraceOrigin(bootID: try text("boot"), bootTime: try double("bt"), startedAt: try double("sstart"),
                                 signals: try text("signals"))
        func task(_ p: String) throws(ReadError) -> TracedTask {
            TracedTask(process: ProcessIdentity(pid: try int("\(p)pid"), startNanoseconds: try int("\(p)st")),
                       tid: try int("\(p)tid"), comm: try bytes("\(p)comm") ?? [], cgroupID: try int("\(p)cg"),
                       pidNamespace: try int("\(p)pidns"), namespacePid: try int("\(p)nspid"))
        }
        switch try raw("op") {
        case "killdb-trace-signal":
            let detail = try bytes("detail").map { String(decoding: $0, as: UTF8.self) }
            let cause: TraceCause
            switch try raw("cause") {
            case "syscall": cause = .syscall(detail ?? "?")
            case "cgroup-kill": cause = .cgroupKill(cgroup: detail)
            case "pidns-teardown": cause = .pidNamespaceTeardown(namespace: try optionalInt("cpidns") ?? 0)
            case "oom": cause = .oom(memoryCgroup: detail)
            case "cpu-limit": cause = .cpuTimeLimit
            case "seccomp": cause = .seccomp
            case "parent-death": cause = .parentDeath
            case "kernel": cause = .kernel
            default: throw .field("cause")
            }
            guard let result = SignalResult(rawValue: try int("result")) else { throw .field("result") }
            var s = TracedSignal(
                bootNanoseconds: try int("ns"), time: try double("t"), signal: try int("sig"), code: try int("code"),
                processDirected: try raw("grp") == "1", result: result, syscallNumber: try optionalInt("sysno"),
                cause: cause, sender: try task("s"), target: try task("t"), uid: try int("suid"), euid: try int("seuid"),
                loginUID: try int("sauid"), sessionID: try int("sses"),
                parent: ProcessIdentity(pid: try int("ppid"), startNanoseconds: try int("pst")),
                parentComm: try bytes("pcomm") ?? [], argv: try bytes("sargv"), argvTruncated: try raw("strunc") == "1",
                exe: try bytes("sexe"), senderIsKernelThread: try raw("skt") == "1")
            s.contextMissing = fields["sctx"] == [0x30]
            guard (1...64).contains(s.signal) else { throw .field("sig") }
            return .signal(s, origin)
        case "killdb-trace-session":
            guard let state = TraceAuditMessage.SessionState(rawValue: try raw("state")) else { throw .field("state") }
            return .session(origin, state: state, version: try text("kver"), hostname: try text("host"),
                            records: try int("records"), lost: try int("lost"), time: try double("t"))
        case "killdb-trace-loss":
            return .loss(TraceLoss(from: try double("from"), to: try double("to"), count: try int("lost")), origin)
        default:
            throw .notKilldb
        }
    }

    static func unhex(_ v: [UInt8]) -> [UInt8]? {
        guard v.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(v.count / 2)
        var i = 0
        while i < v.count {
            guard let h = nibble(v[i]), let l = nibble(v[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
