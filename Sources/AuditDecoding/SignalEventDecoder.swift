import CAuparse
import Foundation

/// Turns the records of one signal event into a `SignalEvent`, using libauparse (the audit
/// project's own parser) to split records into fields.
///
/// libauparse keeps process-wide state (its interpretation list, loaded and freed as
/// records are parsed), so every use of it, from any decoder on any thread, holds one lock:
/// two ingests in one process (the plugin's threads, parallel tests) would otherwise corrupt
/// its heap.
public final class SignalEventDecoder: @unchecked Sendable {
    /// Held by every call into libauparse or libaudit (`SeccompWords` too).
    static let auparseLock = NSLock()

    private let au: OpaquePointer
    private var buffer: [UInt8] = []
    /// Records per libauparse buffer: its cost per record grows with this (see `decode`).
    static let recordsPerBuffer = 64

    public enum Failure: Error, Equatable {
        /// libauparse could not make an event of these records.
        case unparsable
        /// The records parsed but hold no signal syscall with a usable arch and number.
        case notASignalEvent
    }

    public init() {
        Self.auparseLock.lock()
        defer { Self.auparseLock.unlock() }
        // An empty buffer source, refilled per event with auparse_new_buffer.
        au = auparse_init(AUSOURCE_BUFFER, "")!
        auparse_set_escape_mode(au, AUPARSE_ESC_RAW)
    }

    deinit {
        Self.auparseLock.lock()
        defer { Self.auparseLock.unlock() }
        auparse_destroy(au)
    }

    /// Decodes the record lines (without newlines) of the event `id`. Records of other
    /// events are ignored. With no SYSCALL record the result carries only what OBJ_PID and
    /// PROCTITLE say, for the store to merge into the event an earlier run stored.
    public func decode(_ lines: [[UInt8]], id: EventID) -> Result<SignalEvent, Failure> {
        Self.auparseLock.lock()
        defer { Self.auparseLock.unlock() }
        var event = SignalEvent(id: id)
        var sawRecord = false
        var sawSyscall = false
        // A kill(-1) or process-group kill can reach 100,000 processes: one lookup per target.
        var targetPids = Set<Int64>()
        // libauparse's cost per record grows with the records its event already holds: one
        // event of 100,000 OBJ_PIDs took 26 s and 230 MB in it. Each record is decoded on
        // its own, so they are handed over a slice at a time.
        var start = lines.startIndex
        repeat {
            let end = min(start + Self.recordsPerBuffer, lines.endIndex)
            buffer.removeAll(keepingCapacity: true)
            for line in lines[start..<end] {
                let at = buffer.count
                buffer.append(contentsOf: line)
                // A NUL would end libauparse's C string early; the kernel never logs one.
                if line.contains(0) {
                    for i in at..<buffer.count where buffer[i] == 0 { buffer[i] = 0x20 }
                }
                buffer.append(0x0a)
            }
            start = end
            let loaded = buffer.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { auparse_new_buffer(au, $0.baseAddress, $0.count) }
            }
            guard loaded == 0 else { return .failure(.unparsable) }
            while auparse_next_event(au) > 0 {
                guard auparse_first_record(au) > 0 else { continue }
                repeat {
                    sawRecord = true
                    switch auparse_get_type(au) {
                    case 1300:  // SYSCALL
                        if !sawSyscall, decodeSyscall(into: &event) { sawSyscall = true }
                    case 1318:  // OBJ_PID
                        if let target = decodeTarget(), targetPids.insert(target.pid).inserted {
                            event.targets.append(target)
                        }
                    case 1327:  // PROCTITLE
                        if event.sender.proctitle == nil, let raw = fieldValue("proctitle") {
                            event.sender.proctitle = AuditField.decodeString(raw)
                        }
                    default:
                        break
                    }
                } while auparse_next_record(au) > 0
            }
        } while start < lines.endIndex
        guard sawRecord else { return .failure(.unparsable) }
        if !sawSyscall && event.targets.isEmpty && event.sender.proctitle == nil {
            return .failure(.notASignalEvent)
        }
        return .success(event)
    }

    // MARK: records

    private func decodeSyscall(into event: inout SignalEvent) -> Bool {
        var f = FieldSet()
        collectFields(into: &f)
        guard let archRaw = f["arch"], let arch = AuditArch(field: archRaw),
              let scRaw = f["syscall"] else { return false }
        let number: Int
        let syscall: SignalSyscall
        if let n = AuditField.decimal(scRaw), let s = arch.signalSyscall(number: Int(n)) {
            number = Int(n); syscall = s
        } else if let s = SignalSyscall(name: scRaw), let n = arch.number(of: s) {
            number = n; syscall = s    // pre-interpreted log: syscall=kill
        } else {
            return false
        }
        let args: [UInt64?] = ["a0", "a1", "a2", "a3"].map { f[$0].flatMap(AuditField.hexUInt64) }
        let signalRaw = args[syscall.signalArgumentIndex]
        var call = SignalCall(
            arch: arch, syscallNumber: number, syscall: syscall,
            arguments: args.map { $0 ?? 0 },
            signal: signalRaw.map { Int32(truncatingIfNeeded: AuditArch.intArgument($0)) },
            success: f["success"].map { Array($0) == Array("yes".utf8) },
            exit: f["exit"].flatMap(AuditField.decimal),
            targetArgument: nil, threadGroupArgument: nil, pidfd: nil)
        let a0 = args[0].map(AuditArch.intArgument)
        let a1 = args[1].map(AuditArch.intArgument)
        switch syscall {
        case .kill, .tkill, .rt_sigqueueinfo: call.targetArgument = a0
        case .tgkill, .rt_tgsigqueueinfo: call.threadGroupArgument = a0; call.targetArgument = a1
        case .pidfd_send_signal: call.pidfd = a0
        }
        event.call = call
        var s = event.sender
        s.pid = f["pid"].flatMap(AuditField.decimal)
        s.ppid = f["ppid"].flatMap(AuditField.decimal)
        s.uid = f["uid"].flatMap(AuditField.auditID)
        s.auid = f["auid"].flatMap(AuditField.auditID)
        s.euid = f["euid"].flatMap(AuditField.auditID)
        s.ses = f["ses"].flatMap(AuditField.auditID)
        s.tty = f["tty"].flatMap(AuditField.decodeString)
        s.comm = f["comm"].flatMap(AuditField.decodeString)
        s.exe = f["exe"].flatMap(AuditField.decodeString)
        s.subject = f["subj"].flatMap(AuditField.decodeString)
        let names = interpretations()
        s.uidName = names["UID"]
        s.auidName = names["AUID"]
        s.euidName = names["EUID"]
        event.sender = s
        event.key = f["key"].flatMap(AuditField.decodeString)
        return true
    }

    /// OBJ_PID's fields, the first of a repeated name winning. A kill(-1) has one record per
    /// process it reached (100,000 of them), so names are compared as libauparse holds them
    /// and only the values used are copied.
    private func decodeTarget() -> SignalTarget? {
        var pid: Int64??, uid: Int64??, auid: Int64??, ses: Int64??
        var comm: [UInt8]??, object: [UInt8]??
        guard auparse_first_field(au) > 0 else { return nil }
        repeat {
            guard let name = auparse_get_field_name(au), let value = auparse_get_field_str(au) else { continue }
            let v = UnsafeBufferPointer(start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: strlen(value))
            if pid == nil, Self.named(name, "opid") { pid = AuditField.decimal(bytes: v) }
            else if uid == nil, Self.named(name, "ouid") { uid = AuditField.auditID(v) }
            else if auid == nil, Self.named(name, "oauid") { auid = AuditField.auditID(v) }
            else if ses == nil, Self.named(name, "oses") { ses = AuditField.auditID(v) }
            else if comm == nil, Self.named(name, "ocomm") { comm = AuditField.decodeString(bytes: v) }
            else if object == nil, Self.named(name, "obj") { object = AuditField.decodeString(bytes: v) }
        } while auparse_next_field(au) > 0
        guard let p = pid, let p else { return nil }
        var t = SignalTarget(pid: p)
        t.uid = uid ?? nil
        t.auid = auid ?? nil
        t.ses = ses ?? nil
        t.comm = comm ?? nil
        t.object = object ?? nil
        let names = interpretations()
        t.uidName = names["OUID"]
        t.auidName = names["OAUID"]
        return t
    }

    @inline(__always)
    private static func named(_ name: UnsafePointer<CChar>, _ field: StaticString) -> Bool {
        strcmp(name, UnsafeRawPointer(field.utf8Start).assumingMemoryBound(to: CChar.self)) == 0
    }

    // MARK: fields

    /// The record's fields by name; the first of a repeated name wins (some kernels log
    /// `uid=` twice).
    private struct FieldSet {
        var fields: [(String, [UInt8])] = []
        subscript(_ name: String) -> [UInt8]? { fields.first(where: { $0.0 == name })?.1 }
    }

    private func collectFields(into f: inout FieldSet) {
        guard auparse_first_field(au) > 0 else { return }
        repeat {
            guard let name = auparse_get_field_name(au), let value = auparse_get_field_str(au) else { continue }
            f.fields.append((String(cString: name), bytes(value)))
        } while auparse_next_field(au) > 0
    }

    private func fieldValue(_ name: String) -> [UInt8]? {
        auparse_first_field(au)
        guard let v = auparse_find_field(au, name) else { return nil }
        return bytes(v)
    }

    /// ENRICHED logs append `\x1dUID="root" AUID="unset" ...`: the names the logging host
    /// resolved. They are that host's truth, so they are kept as logged.
    private func interpretations() -> [String: [UInt8]] {
        guard let raw = auparse_get_record_interpretations(au) else { return [:] }
        var out: [String: [UInt8]] = [:]
        let text = bytes(raw)
        for token in text.split(whereSeparator: { $0 == 0x20 || $0 == 0x1d }) {
            guard let eq = token.firstIndex(of: 0x3d) else { continue }
            let key = String(decoding: token[token.startIndex..<eq], as: UTF8.self)
            var value = Array(token[(eq + 1)...])
            if value.count >= 2, value.first == 0x22, value.last == 0x22 { value = Array(value.dropFirst().dropLast()) }
            if out[key] == nil { out[key] = value }
        }
        return out
    }

    private func bytes(_ p: UnsafePointer<CChar>) -> [UInt8] {
        let n = strlen(p)
        return p.withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
