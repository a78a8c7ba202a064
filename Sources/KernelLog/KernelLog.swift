import AuditDecoding
import Foundation

/// One message of a kernel log (or of the journal), with where and when it was logged.
public struct KernelLogEntry: Sendable {
    /// Who logged it. Only `kernel` messages can be kernel kills: a user can put any text
    /// in syslog or the journal, but not in the kernel's own facility or transport.
    public enum Program: Sendable, Equatable { case kernel, systemd, oomd, other }

    public var node: String
    public var time: Double
    public var source: KernelLogSource
    public var program: Program
    /// The message text, without time stamp, host or tag.
    public var message: [UInt8]
    /// Unique per entry, stable across reads.
    public var identity: String
    /// The journal's UNIT field (systemd's messages about a unit).
    public var unit: String?

    public init(node: String, time: Double, source: KernelLogSource, program: Program, message: [UInt8],
                identity: String, unit: String? = nil) {
        self.node = node
        self.time = time
        self.source = source
        self.program = program
        self.message = message
        self.identity = identity
        self.unit = unit
    }
}

/// What a text kernel log needs to place its lines in time.
public struct KernelLogClock: Sendable {
    /// Syslog's traditional stamps have no year: the year that puts them at or before this
    /// time (the file's modification time) is taken.
    public var reference: Double
    /// dmesg's `[12345.678901]` stamps count from boot.
    public var bootTime: Double?
    /// Syslog's traditional stamps and dmesg -T are local time.
    public var timeZone: TimeZone

    public init(reference: Double, bootTime: Double?, timeZone: TimeZone = .current) {
        self.reference = reference
        self.bootTime = bootTime
        self.timeZone = timeZone
    }
}

/// The line formats a kernel log comes in, recognised line by line so one reader takes
/// any of them (and a file that mixes them):
///
/// - `journalctl -o json`: `{"MESSAGE":"…","__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"web1",…}`
/// - syslog (kern.log, messages): `Nov 24 19:02:30 host kernel: [12345.678901] …`, or with an
///   RFC 3339 stamp `2026-11-24T19:02:30.123456+01:00 host kernel: …`
/// - dmesg: `[12345.678901] …` (from boot), `[Mon Nov 24 19:02:30 2026] …` (dmesg -T),
///   `2026-11-24T19:02:30,123456+01:00 …` (dmesg --time-format iso)
public enum KernelLogLine {
    public enum Problem: Error, Equatable {
        case unknownFormat
        /// A dmesg line counted from boot, and no boot time to count from.
        case noBootTime
    }

    /// The entry on `line`; nil for a line of a known format that cannot matter (a
    /// journal entry of no interest), whose time is still reported through `seen`.
    public static func parse(_ line: [UInt8], _ clock: KernelLogClock, seen: (Double) -> Void = { _ in }) -> Result<KernelLogEntry?, Problem> {
        var i = 0
        while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        guard i < line.count else { return .success(nil) }
        switch line[i] {
        case 0x7b: return journal(line, seen: seen)
        case 0x5b: return dmesgBracket(line, from: i, clock)
        case 0x30...0x39: return isoLine(line, from: i, clock)
        default: return bsdSyslog(line, from: i, clock)
        }
    }

    // MARK: journal

    static let journalNeedles = ["Killed process", "Kill process", "oom-kill:", "Task in ", "audit: type=",
                                 "timed out", "Killing process", "Killed /"].map { Array($0.utf8) }

    static func journal(_ line: [UInt8], seen: (Double) -> Void) -> Result<KernelLogEntry?, Problem> {
        // The time without a JSON parse: most journal entries are of no interest.
        var time: Double?
        if let r = line.firstRange(of: "\"__REALTIME_TIMESTAMP\":\"") {
            var j = r.upperBound
            if let us = decimal(line, &j) { time = Double(us) / 1e6 }
        }
        if let time { seen(time) }
        guard journalNeedles.contains(where: { n in line.firstRange(of: String(decoding: n, as: UTF8.self)) != nil }) else {
            return time == nil ? .failure(.unknownFormat) : .success(nil)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            return .failure(.unknownFormat)
        }
        func string(_ key: String) -> String? { object[key] as? String }
        guard let stamp = string("__REALTIME_TIMESTAMP").flatMap(Int64.init) else { return .failure(.unknownFormat) }
        // Non-UTF-8 messages are arrays of byte values.
        let message: [UInt8]
        if let s = object["MESSAGE"] as? String {
            message = Array(s.utf8)
        } else if let a = object["MESSAGE"] as? [Any] {
            message = a.compactMap { ($0 as? NSNumber).map { UInt8(truncatingIfNeeded: $0.intValue) } }
        } else {
            return .success(nil)
        }
        // Fields starting with _ are set by journald itself, not by the logging process, but
        // not all of them are beyond its choosing: _COMM is whatever name the process gave
        // itself (prctl PR_SET_NAME). Its cgroup (_SYSTEMD_UNIT) and its host pid and uid
        // are not. systemd-oomd.service runs as the systemd-oom system user, not root, so its
        // uid is not checked; no other process can join its unit's cgroup.
        let program: KernelLogEntry.Program
        if string("_TRANSPORT") == "kernel" {
            program = .kernel
        } else if string("_SYSTEMD_UNIT") == "systemd-oomd.service", string("_UID") != nil {
            program = .oomd
        } else if string("_PID") == "1", string("_UID") == "0" {
            program = .systemd
        } else {
            program = .other
        }
        let node = string("_HOSTNAME") ?? ""
        return .success(KernelLogEntry(
            node: node, time: Double(stamp) / 1e6, source: .journal, program: program, message: message,
            identity: "journal:\(node):\(stamp):\(hash(message))", unit: string("UNIT") ?? string("USER_UNIT")))
    }

    // MARK: dmesg

    static func dmesgBracket(_ line: [UInt8], from start: Int, _ clock: KernelLogClock) -> Result<KernelLogEntry?, Problem> {
        guard let close = line[start...].firstIndex(of: 0x5d) else { return .failure(.unknownFormat) }
        let inside = Array(line[(start + 1)..<close])
        var m = close + 1
        if m < line.count, line[m] == 0x20 { m += 1 }
        let message = Array(line[m...])
        let trimmed = inside.drop { $0 == 0x20 }
        if let rel = relativeSeconds(Array(trimmed)) {
            guard let boot = clock.bootTime else { return .failure(.noBootTime) }
            return .success(kernelEntry(node: "", time: boot + rel, source: .dmesg, message: message,
                                        identity: "dmesg:\(String(decoding: trimmed, as: UTF8.self)):\(hash(message))"))
        }
        // dmesg -T: "Mon Nov 24 19:02:30 2026", local time.
        let words = inside.split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
        guard words.count == 5, let month = months.firstIndex(of: words[1]), let day = Int(words[2]),
              let hms = clockTime(words[3]), let year = Int(words[4]) else { return .failure(.unknownFormat) }
        let t = local(year, month + 1, day, hms, clock.timeZone)
        return .success(kernelEntry(node: "", time: t, source: .dmesg, message: message,
                                    identity: "dmesg:\(String(decoding: inside, as: UTF8.self)):\(hash(message))"))
    }

    /// `12345.678901`: seconds since boot.
    static func relativeSeconds(_ s: [UInt8]) -> Double? {
        guard !s.isEmpty, s.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e }), s.contains(0x2e) else { return nil }
        return Double(String(decoding: s, as: UTF8.self))
    }

    // MARK: RFC 3339 (syslog) and ISO (dmesg)

    static func isoLine(_ line: [UInt8], from start: Int, _ clock: KernelLogClock) -> Result<KernelLogEntry?, Problem> {
        guard let sp = line[start...].firstIndex(of: 0x20) else { return .failure(.unknownFormat) }
        let stamp = String(decoding: line[start..<sp], as: UTF8.self)
        guard let t = rfc3339(stamp) else { return .failure(.unknownFormat) }
        // dmesg --time-format iso writes a comma before the fraction and no host.
        if stamp.contains(",") {
            let message = Array(line[(sp + 1)...])
            return .success(kernelEntry(node: "", time: t, source: .dmesg, message: message,
                                        identity: "dmesg:\(stamp):\(hash(message))"))
        }
        return syslogRest(line, after: sp + 1, time: t, stamp: stamp)
    }

    /// `2026-11-24T19:02:30.123456+01:00`, `…Z`, `…,123456+0100`.
    public static func rfc3339(_ s: String) -> Double? {
        let b = Array(s.utf8)
        guard b.count >= 19, b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54 || b[10] == 0x20, b[13] == 0x3a, b[16] == 0x3a else { return nil }
        func num(_ r: Range<Int>) -> Int? { Int(String(decoding: b[r], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
              let mi = num(14..<16), let sec = num(17..<19) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 0x2e || b[i] == 0x2c {
            let fs = i + 1
            i += 1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            fraction = Double("0." + String(decoding: b[fs..<i], as: UTF8.self)) ?? 0
        }
        var offset = 0
        if i < b.count {
            if b[i] == 0x5a { i += 1 } else if b[i] == 0x2b || b[i] == 0x2d {
                let sign = b[i] == 0x2d ? -1 : 1
                let digits = b[(i + 1)...].filter { $0 != 0x3a }
                guard digits.count == 4, let hh = Int(String(decoding: digits.prefix(2), as: UTF8.self)),
                      let mm = Int(String(decoding: digits.suffix(2), as: UTF8.self)) else { return nil }
                offset = sign * (hh * 3600 + mm * 60)
                i = b.count
            } else { return nil }
        } else {
            return nil  // no zone: not a stamp this reader can place
        }
        guard i == b.count else { return nil }
        return Double(civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset) + fraction
    }

    // MARK: traditional syslog

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func bsdSyslog(_ line: [UInt8], from start: Int, _ clock: KernelLogClock) -> Result<KernelLogEntry?, Problem> {
        // "Nov 24 19:02:30 host …", the day padded with a space when below 10.
        guard line.count >= start + 16, line[start + 3] == 0x20, line[start + 15] == 0x20,
              let month = months.firstIndex(of: String(decoding: line[start..<(start + 3)], as: UTF8.self)),
              let day = Int(String(decoding: line[(start + 4)..<(start + 6)], as: UTF8.self).trimmingCharacters(in: .whitespaces)),
              let hms = clockTime(String(decoding: line[(start + 7)..<(start + 15)], as: UTF8.self)) else {
            return .failure(.unknownFormat)
        }
        var year = Calendar(identifier: .gregorian).component(.year, from: Date(timeIntervalSince1970: clock.reference))
        var t = local(year, month + 1, day, hms, clock.timeZone)
        if t > clock.reference + 86400 {
            year -= 1
            t = local(year, month + 1, day, hms, clock.timeZone)
        }
        // The stamp as written, not as placed: a different TZ or year guess must not make
        // the same line a new entry.
        return syslogRest(line, after: start + 16, time: t, stamp: String(decoding: line[start..<(start + 15)], as: UTF8.self))
    }

    /// `host tag[pid]: message` after the stamp.
    static func syslogRest(_ line: [UInt8], after start: Int, time: Double, stamp: String) -> Result<KernelLogEntry?, Problem> {
        guard let hostEnd = line[start...].firstIndex(of: 0x20) else { return .failure(.unknownFormat) }
        let host = String(decoding: line[start..<hostEnd], as: UTF8.self)
        guard let tagEnd = Array(line[(hostEnd + 1)...]).firstRange(of: ": ").map({ $0.lowerBound + hostEnd + 1 }) else {
            return .success(nil)
        }
        let tag = String(decoding: line[(hostEnd + 1)..<tagEnd], as: UTF8.self)
        var m = tagEnd + 2
        let program: KernelLogEntry.Program
        switch tag {
        case "kernel":
            program = .kernel
            // The printk stamp rsyslog keeps: "[12345.678901] ".
            if m < line.count, line[m] == 0x5b, let close = line[m...].firstIndex(of: 0x5d),
               relativeSeconds(Array(line[(m + 1)..<close].drop { $0 == 0x20 })) != nil {
                m = close + 1
                if m < line.count, line[m] == 0x20 { m += 1 }
            }
        case "systemd[1]": program = .systemd
        default: program = tag.hasPrefix("systemd-oomd[") ? .oomd : .other
        }
        let message = Array(line[min(m, line.count)...])
        return .success(KernelLogEntry(node: host, time: time, source: .syslog, program: program, message: message,
                                       identity: "syslog:\(host):\(stamp):\(hash(Array(line[start...])))"))
    }

    // MARK: shared

    /// A kernel message; systemd also writes to the kernel log (`systemd[1]: …`) early in boot.
    static func kernelEntry(node: String, time: Double, source: KernelLogSource, message: [UInt8], identity: String) -> KernelLogEntry {
        var program: KernelLogEntry.Program = .kernel
        var text = message
        if message.starts(with: Array("systemd[1]: ".utf8)) {
            program = .systemd
            text = Array(message.dropFirst(12))
        }
        return KernelLogEntry(node: node, time: time, source: source, program: program, message: text, identity: identity)
    }

    static func clockTime(_ s: String) -> Int? {
        let p = s.split(separator: ":")
        guard p.count == 3, let h = Int(p[0]), let m = Int(p[1]), let sec = Int(p[2]) else { return nil }
        return h * 3600 + m * 60 + sec
    }

    static func local(_ y: Int, _ m: Int, _ d: Int, _ seconds: Int, _ zone: TimeZone) -> Double {
        let utc = Double(civil(y, m, d) * 86400 + seconds)
        // The offset at the (approximate) instant; exact except within a DST change.
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: utc - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: utc)))))
        return utc - Double(offset)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func civil(_ y: Int, _ m: Int, _ d: Int) -> Int { CivilDate.days(year: y, month: m, day: d) }

    /// FNV-1a of the text, for identities.
    public static func hash(_ bytes: [UInt8]) -> String { String(FNV1a.hash(bytes), radix: 16) }
}
