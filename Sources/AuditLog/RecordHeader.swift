#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AuditDecoding

/// The record types killdb cares about, recognised by name (`type=SYSCALL`) or by number
/// (`type=1300`, as the kernel log prints them).
public enum RecordKind: Sendable, Equatable {
    case syscall
    case objPID
    case proctitle
    case endOfEvent
    /// auditd's own records (DAEMON_START, DAEMON_END, DAEMON_ROTATE ...): numbered by
    /// auditd's counter, not the kernel's.
    case daemon
    /// Kernel-delivered fatal signals: SECCOMP (a filter's kill) and ANOM_ABEND (a core
    /// dump). No process sent them, so they are kept as kernel kills.
    case seccomp
    case anomAbend
    /// A user-space message (type USER, 1005): `killdb trace --audit` writes its records as
    /// these; the kernel puts the writer's pid and uid in front.
    case user
    /// An execve's arguments (EXECVE): with its SYSCALL, what a process ran, and its parent.
    case execve
    case other
}

/// The fixed part of one audit log line:
/// `[node=NAME ]type=TYPE msg=audit(SEC.MSEC:SERIAL): BODY[\x1dINTERPRETATIONS]`.
/// Parsed straight from the bytes, without allocating, so every line of a large log can be
/// classified cheaply before libauparse sees the few that matter.
public struct RecordHeader: Sendable {
    public var node: String
    public var typeName: String
    public var kind: RecordKind
    public var seconds: Int64
    public var milliseconds: Int32
    public var serial: UInt32
    /// Offsets into the line: the body after `): `, up to the ENRICHED separator or the end.
    public var bodyStart: Int
    public var bodyEnd: Int

    public var eventID: EventID {
        EventID(node: node, seconds: seconds, milliseconds: milliseconds, serial: serial)
    }
}

/// Why a line is not an audit record.
public enum LineProblem: String, Error, Sendable {
    case notARecord = "not an audit record"
    case missingTimestamp = "no audit(...) time stamp"
    case badTimestamp = "malformed audit(...) time stamp"
    case tooLong = "line too long"
    case unparsable = "record libauparse could not parse"
    case damagedArchive = "compressed file damaged here; the rest of it could not be read"
    /// A stamp more than a year past the clock of the machine reading it: damage (or a forged
    /// line) that would otherwise end every open event and stretch coverage for ever.
    case farFuture = "time stamp far in the future"
}

@usableFromInline let enrichedSeparator: UInt8 = 0x1d

/// The fixed part of one line as offsets into it: what the pre-filter needs of every line of
/// a log, found without allocating. The node and type stay bytes of the line; the body's
/// end (the ENRICHED separator) is looked for only when a field of the body is read.
struct RawRecordHeader {
    /// `node=NAME`'s name, empty when the line has none.
    var nodeStart = 0
    var nodeEnd = 0
    var typeStart: Int
    var typeEnd: Int
    var kind: RecordKind
    var seconds: Int64
    var milliseconds: Int32
    var serial: UInt32
    /// Just past `): `.
    var bodyStart: Int

    @inline(__always)
    func node(in line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: line[nodeStart..<nodeEnd])
    }

    /// Where the body ends: at the ENRICHED interpretations' separator, or the line's end.
    func bodyEnd(in line: UnsafeBufferPointer<UInt8>) -> Int {
        guard bodyStart < line.count,
              let sep = memchr(line.baseAddress! + bodyStart, Int32(enrichedSeparator), line.count - bodyStart)
        else { return line.count }
        return line.baseAddress!.distance(to: sep.assumingMemoryBound(to: UInt8.self))
    }

    /// Parses the header of `line` (without its newline). Returns nil with a reason for a line
    /// that is not an audit record; blank lines are the caller's business. Every line of a
    /// log comes through here: it reads the header's bytes once, and none of the body's.
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> Result<RawRecordHeader, LineProblem> {
        let n = line.count
        guard n > 0, let p = line.baseAddress else { return .failure(.notARecord) }
        var i = 0
        var nodeStart = 0, nodeEnd = 0
        // Optional node= prefix, added by name_format or by the collector of forwarded events.
        if p[0] == 0x6e, n >= 5, line.starts(with: "node=") {
            var j = 5
            while j < n, p[j] != 0x20 { j += 1 }
            nodeStart = 5
            nodeEnd = j
            i = j
            while i < n, p[i] == 0x20 { i += 1 }
        }
        // type=NAME starts the record: a header found further in is damage or a line of
        // some other log quoting one, and its stamp must not move the event clock. The
        // kernel log's own "audit: " is the one prefix (its callers strip theirs to it).
        if n - i >= 7, p[i] == 0x61, UnsafeBufferPointer(rebasing: line[i...]).starts(with: "audit: ") { i += 7 }
        guard n - i >= 5, UnsafeBufferPointer(rebasing: line[i...]).starts(with: "type=") else {
            return .failure(.notARecord)
        }
        var j = i + 5
        let typeStart = j
        while j < n, p[j] != 0x20 { j += 1 }
        guard j > typeStart else { return .failure(.notARecord) }
        let typeEnd = j
        // audit(SEC.MSEC:SERIAL): as auditd writes it, " msg=audit(" right after the type.
        var k: Int
        if n - j >= 11, UnsafeBufferPointer(rebasing: line[j...]).starts(with: " msg=audit(") {
            k = j + 11
        } else if let a = find(line, "audit(", from: j, limit: min(n, j + 64)) {
            k = a + 6
        } else {
            return .failure(.missingTimestamp)
        }
        // Twelve digits reach the year 33658: more is damage, and would overflow.
        guard let sec = digits(p, n, &k, max: 12), k < n, p[k] == 0x2e else { return .failure(.badTimestamp) }
        k += 1
        guard let ms = digits(p, n, &k, max: 3), k < n, p[k] == 0x3a else { return .failure(.badTimestamp) }
        k += 1
        guard let serial = digits(p, n, &k, max: 10), serial <= UInt64(UInt32.max), k < n, p[k] == 0x29 else {
            return .failure(.badTimestamp)
        }
        k += 1
        if k < n, p[k] == 0x3a { k += 1 }
        while k < n, p[k] == 0x20 { k += 1 }
        // A three-digit millisecond field; "5" would be odd but means 5 ms, as auparse reads it.
        return .success(RawRecordHeader(
            nodeStart: nodeStart, nodeEnd: nodeEnd, typeStart: typeStart, typeEnd: typeEnd,
            kind: RecordHeader.kind(of: UnsafeBufferPointer(rebasing: line[typeStart..<typeEnd])),
            seconds: Int64(sec), milliseconds: Int32(ms), serial: UInt32(serial), bodyStart: k))
    }

    /// At most `max` (≤ 19, so no overflow) decimal digits from `k`; nil for none or more.
    @inline(__always)
    private static func digits(_ p: UnsafePointer<UInt8>, _ n: Int, _ k: inout Int, max: Int) -> UInt64? {
        let start = k
        let limit = Swift.min(n, start + max + 1)
        var v: UInt64 = 0
        while k < limit {
            let d = p[k] &- 0x30
            guard d < 10 else { break }
            v = v &* 10 &+ UInt64(d)
            k &+= 1
        }
        return k > start && k - start <= max ? v : nil
    }

    /// The whole header, its node and type as Strings (for the few records kept).
    func header(of line: UnsafeBufferPointer<UInt8>, node: String? = nil) -> RecordHeader {
        RecordHeader(
            node: node ?? String(decoding: self.node(in: line), as: UTF8.self),
            typeName: String(decoding: UnsafeBufferPointer(rebasing: line[typeStart..<typeEnd]), as: UTF8.self),
            kind: kind, seconds: seconds, milliseconds: milliseconds, serial: serial,
            bodyStart: bodyStart, bodyEnd: bodyEnd(in: line))
    }
}

extension RecordHeader {
    /// Parses the header of `line` (without its newline). Returns nil with a reason for a line
    /// that is not an audit record; blank lines are the caller's business.
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> Result<RecordHeader, LineProblem> {
        RawRecordHeader.parse(line).map { $0.header(of: line) }
    }

    static func kind(of type: UnsafeBufferPointer<UInt8>) -> RecordKind {
        switch type.count {
        case 7 where type.starts(with: "SYSCALL"): return .syscall
        case 7 where type.starts(with: "OBJ_PID"): return .objPID
        case 7 where type.starts(with: "SECCOMP"): return .seccomp
        case 10 where type.starts(with: "ANOM_ABEND"): return .anomAbend
        case 9 where type.starts(with: "PROCTITLE"): return .proctitle
        case 3 where type.starts(with: "EOE"): return .endOfEvent
        case 4 where type.starts(with: "USER"): return .user
        case 6 where type.starts(with: "EXECVE"): return .execve
        case 4:
            // Numeric types, as in the kernel log: 1300 SYSCALL, 1318 OBJ_PID, 1320 EOE,
            // 1326 SECCOMP, 1327 PROCTITLE, 1701 ANOM_ABEND, 1200-1299 auditd's own.
            var v = 0
            for b in type {
                guard b >= 0x30, b <= 0x39 else { return .other }
                v = v * 10 + Int(b - 0x30)
            }
            switch v {
            case 1300: return .syscall
            case 1318: return .objPID
            case 1320: return .endOfEvent
            case 1327: return .proctitle
            case 1326: return .seccomp
            case 1701: return .anomAbend
            case 1005: return .user
            case 1309: return .execve
            case 1200...1299: return .daemon
            default: return .other
            }
        default:
            if type.count > 7, type.starts(with: "DAEMON_") { return .daemon }
            return .other
        }
    }

    /// The value of field `name` in the body (`name=value`, value up to the next space), or nil.
    /// Only whole field names match: `uid` does not match `auid=`.
    public static func field(_ name: StaticString, in line: UnsafeBufferPointer<UInt8>,
                             header: RecordHeader) -> UnsafeBufferPointer<UInt8>? {
        field(name, in: line, from: header.bodyStart, to: header.bodyEnd)
    }

    /// Calls `body` with each `name=value` field's name and value ranges between body offsets
    /// `start` and `end` (a token without `=` is passed over), until it returns false.
    @inline(__always)
    static func eachField(in line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                          _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Bool) {
        var i = start
        while i < end {
            var e = i
            while e < end, line[e] != 0x3d, line[e] != 0x20 { e += 1 }
            var v = e
            while v < end, line[v] != 0x20 { v += 1 }
            if e < end, line[e] == 0x3d, !body(i..<e, (e + 1)..<v) { return }
            i = v
            while i < end, line[i] == 0x20 { i += 1 }
        }
    }

    /// The value of field `name` between body offsets `start` and `end`.
    static func field(_ name: StaticString, in line: UnsafeBufferPointer<UInt8>,
                      from start: Int, to end: Int) -> UnsafeBufferPointer<UInt8>? {
        let nameLen = name.utf8CodeUnitCount
        let namePtr = name.utf8Start
        var i = start
        while i < end {
            // At the start of a token.
            if i + nameLen < end, line[i + nameLen] == 0x3d {
                var match = true
                for k in 0..<nameLen where line[i + k] != namePtr[k] { match = false; break }
                if match {
                    let vs = i + nameLen + 1
                    var ve = vs
                    while ve < end, line[ve] != 0x20 { ve += 1 }
                    return UnsafeBufferPointer(rebasing: line[vs..<ve])
                }
            }
            while i < end, line[i] != 0x20 { i += 1 }
            while i < end, line[i] == 0x20 { i += 1 }
        }
        return nil
    }
}

@inline(__always)
func readDecimal(_ line: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt64? {
    let start = i
    var v: UInt64 = 0
    while i < line.count, line[i] >= 0x30, line[i] <= 0x39 {
        if i - start >= 19 { return nil }
        v = v * 10 + UInt64(line[i] - 0x30)
        i += 1
    }
    return i > start ? v : nil
}

func find(_ line: UnsafeBufferPointer<UInt8>, _ needle: StaticString, from: Int, limit: Int) -> Int? {
    let m = needle.utf8CodeUnitCount
    let p = needle.utf8Start
    guard m > 0, limit - from >= m else { return nil }
    var i = from
    while i + m <= limit {
        if line[i] == p[0] {
            var k = 1
            while k < m, line[i + k] == p[k] { k += 1 }
            if k == m { return i }
        }
        i += 1
    }
    return nil
}

extension UnsafeBufferPointer where Element == UInt8 {
    @inline(__always)
    func starts(with s: StaticString) -> Bool {
        let m = s.utf8CodeUnitCount
        guard count >= m else { return false }
        let p = s.utf8Start
        for k in 0..<m where self[k] != p[k] { return false }
        return true
    }
}
