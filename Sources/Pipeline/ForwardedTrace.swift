import AuditDecoding
import AuditLog
import KernelTrace

/// A tracer message read back from an audit log (`killdb trace --audit` on some host):
/// the record's node and time, and what it says.
public struct ForwardedTraceMessage: Sendable, Equatable {
    /// The audit record's node (`node=`, from the host's auditd), "" unnamed.
    public var node: String
    public var time: Double
    public var message: TraceAuditMessage
    /// The writer as the kernel named it (the record's own pid=).
    public var writerPID: Int64?
}

/// A USER record that reads like a tracer message but that the kernel does not attribute
/// to root running killdb: never evidence, kept so an operator sees the attempt.
public struct UnverifiedTraceMessage: Sendable, Equatable {
    public var id: EventID
    public var pid: Int64?
    public var uid: Int64?
    public var exe: [UInt8]?
    public var reason: String
    /// The record's body, as logged.
    public var body: [UInt8]
}

/// A run of the kernel's own records naming a tracer's writer: a killdb process of that pid
/// on that node, anchored from `first` to `last` (its session's start, heartbeats and end).
public struct TraceWriterSpan: Sendable, Equatable {
    public var node: String
    public var pid: Int64
    public var first: Double
    public var last: Double
    /// The executable, as the kernel logged it.
    public var exe: [UInt8]

    public init(node: String, pid: Int64, first: Double, last: Double, exe: [UInt8]) {
        self.node = node
        self.pid = pid
        self.first = first
        self.last = last
        self.exe = exe
    }
}

/// The writers the kernel vouches for, by node and pid: what a tracer message needs beside
/// it. A killdb tracer anchors every heartbeat (10 s); a message more than `window` past its
/// pid's last anchor, or before its first, is vouched for by none (that pid may be another
/// process by then).
public struct TraceWriterAnchors: Sendable {
    public static let window = 60.0
    private var spans: [String: [Int64: [TraceWriterSpan]]] = [:]

    public init(_ known: [TraceWriterSpan] = []) {
        for s in known { insert(s) }
    }

    /// A stored span, as it is (unless this one already holds it).
    public mutating func insert(_ s: TraceWriterSpan) {
        var list = spans[s.node]?[s.pid] ?? []
        if let i = list.firstIndex(where: { $0.first == s.first && $0.exe == s.exe }) {
            list[i].last = max(list[i].last, s.last)
        } else {
            list.append(s)
        }
        spans[s.node, default: [:]][s.pid] = list
    }

    /// An anchor at `time`: extends the span it continues, or opens one. Returns the span.
    public mutating func add(node: String, pid: Int64, time: Double, exe: [UInt8]) -> TraceWriterSpan {
        var list = spans[node]?[pid] ?? []
        if let i = list.firstIndex(where: { $0.exe == exe && time >= $0.first - 1 && time <= $0.last + Self.window }) {
            list[i].first = min(list[i].first, time)
            list[i].last = max(list[i].last, time)
            spans[node, default: [:]][pid] = list
            return list[i]
        }
        let s = TraceWriterSpan(node: node, pid: pid, first: time, last: time, exe: exe)
        list.append(s)
        spans[node, default: [:]][pid] = list
        return s
    }

    /// The kernel's anchor that vouches for a message of `pid` on `node` at `time`.
    public func vouching(node: String, pid: Int64, time: Double) -> TraceWriterSpan? {
        spans[node]?[pid]?.first { time >= $0.first - 1 && time <= $0.last + Self.window }
    }
}

/// Verifying a USER record as the tracer's: the kernel writes the sender's pid and uid
/// before `msg='...'` (an unprivileged process cannot send one at all: it needs
/// CAP_AUDIT_WRITE in the initial namespaces), libaudit appends the writer's executable
/// after the text. Accepted: uid 0 (the kernel's word), executable named `killdb` (libaudit's
/// word, read from /proc/self/exe: another program writing through libaudit is named as
/// itself), a SECCOMP record of the kernel's naming that pid's executable killdb near then
/// (`anchor`: the kernel's word, which no user-space program can write), and a message this
/// killdb can read.
public enum ForwardedTrace {
    public enum Verdict: Sendable, Equatable {
        case verified(ForwardedTraceMessage)
        case unverified(UnverifiedTraceMessage)
    }

    /// A SECCOMP record of killdb's anchor (`killdb_audit_anchor`): the kernel's own record
    /// of a SECCOMP_RET_LOG verdict on getppid(2), naming the writer's pid, uid and exe. Only
    /// root's killdb counts (uid 0, an executable named `killdb`).
    public static func anchor(_ record: KernelActionRecord) -> (pid: Int64, exe: [UInt8])? {
        record.bytes.withUnsafeBufferPointer { line -> (pid: Int64, exe: [UInt8])? in
            let h = record.header
            guard h.kind == .seccomp else { return nil }
            func field(_ name: StaticString) -> UnsafeBufferPointer<UInt8>? { RecordHeader.field(name, in: line, header: h) }
            guard field("sig").flatMap(AuditField.decimal) == 0,
                  let code = field("code").flatMap(AuditField.hexUInt64), code & 0xffff_0000 == 0x7ffc_0000,
                  field("uid").flatMap(AuditField.auditID) == 0,
                  let pid = field("pid").flatMap(AuditField.decimal),
                  let syscall = field("syscall").flatMap(AuditField.decimal),
                  let arch = field("arch").flatMap(AuditField.hexUInt64),
                  SeccompWords.syscallName(syscall, arch: UInt32(truncatingIfNeeded: arch)) == "getppid",
                  let exe = field("exe").flatMap(AuditField.decodeString),
                  exe.split(separator: 0x2f).last.map(Array.init) == Array("killdb".utf8) else { return nil }
            return (pid, exe)
        }
    }

    public static func verify(_ record: KernelActionRecord, anchors: TraceWriterAnchors) -> Verdict {
        record.bytes.withUnsafeBufferPointer { line -> Verdict in
            let h = record.header
            let body = Array(line[h.bodyStart..<h.bodyEnd])
            func kernelField(_ name: StaticString) -> Int64? {
                // The kernel's fields come first, before msg='; a field inside it is the writer's.
                guard let v = RecordHeader.field(name, in: line, header: h),
                      let msgStart = RecordHeader.field("msg", in: line, header: h),
                      v.baseAddress! < msgStart.baseAddress! else { return nil }
                return AuditField.decimal(v)
            }
            let pid = kernelField("pid"), uid = kernelField("uid")
            var unverified = UnverifiedTraceMessage(id: h.eventID, pid: pid, uid: uid, exe: nil, reason: "", body: body)
            guard let open = find(body, Array("msg='".utf8)), let close = body.lastIndex(of: 0x27), close > open + 5 else {
                unverified.reason = "no msg='...' text"
                return .unverified(unverified)
            }
            let text = Array(body[(open + 5)..<close])
            let exe = Self.exe(text)
            unverified.exe = exe
            guard uid == 0 else {
                unverified.reason = uid.map { "the kernel names uid \($0) as its writer, not root" } ?? "the kernel names no writer uid"
                return .unverified(unverified)
            }
            guard let exe, exe.split(separator: 0x2f).last.map(Array.init) == Array("killdb".utf8) else {
                unverified.reason = "written by \(exe.map { String(decoding: $0, as: UTF8.self) } ?? "an unnamed program"), not killdb"
                return .unverified(unverified)
            }
            // libaudit's exe= is the writer's own claim: the kernel's word is the anchor.
            guard let writer = pid, anchors.vouching(node: h.node, pid: writer, time: h.eventID.time) != nil else {
                unverified.reason = "no record of the kernel names pid \(pid.map(String.init) ?? "?") a killdb process then "
                    + "(the SECCOMP anchor `killdb trace --audit` logs at each heartbeat): its exe= is only the writer's claim"
                return .unverified(unverified)
            }
            do {
                let m = try TraceAuditFormat.read(text)
                return .verified(ForwardedTraceMessage(node: h.node, time: h.eventID.time, message: m, writerPID: pid))
            } catch {
                unverified.reason = String(describing: error)
                return .unverified(unverified)
            }
        }
    }

    /// libaudit's `exe=` (the last one: it is appended after the message), quoted or hex.
    static func exe(_ text: [UInt8]) -> [UInt8]? {
        let key = Array(" exe=".utf8)
        var last: Int?
        var i = 0
        while let j = find(Array(text[i...]), key) { last = i + j; i = i + j + 1 }
        guard let start = last.map({ $0 + key.count }) else { return nil }
        var end = start
        if start < text.count, text[start] == 0x22 {
            end = start + 1
            while end < text.count, text[end] != 0x22 { end += 1 }
            end = min(end + 1, text.count)
        } else {
            while end < text.count, text[end] != 0x20 { end += 1 }
        }
        let value = Array(text[start..<end])
        if value == [0x3f] || value.isEmpty { return nil }
        return AuditField.decodeString(value)
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = 0
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
