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

/// Verifying a USER record as the tracer's: the kernel writes the sender's pid and uid
/// before `msg='...'` (an unprivileged process cannot send one at all: it needs
/// CAP_AUDIT_WRITE in the initial namespaces), libaudit appends the writer's executable
/// after the text. Accepted: uid 0 (the kernel's word), executable named `killdb` (libaudit's
/// word, read from /proc/self/exe: another program writing through libaudit is named as
/// itself), and a message this killdb can read.
public enum ForwardedTrace {
    public enum Verdict: Sendable, Equatable {
        case verified(ForwardedTraceMessage)
        case unverified(UnverifiedTraceMessage)
    }

    public static func verify(_ record: KernelActionRecord) -> Verdict {
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
