#if canImport(Glibc)
import Glibc
#endif
import AuditLog
import Foundation

/// One record of /dev/kmsg: `PRI,SEQ,USEC,FLAGS[,…];MESSAGE`, then ` KEY=VALUE` lines.
public struct KmsgRecord: Sendable, Equatable {
    /// syslog facility × 8 + level; facility 0 is the kernel's own (userspace writes to
    /// /dev/kmsg get another facility).
    public var priority: Int
    public var sequence: UInt64
    /// Microseconds of the kernel's printk clock since boot.
    public var microseconds: UInt64
    /// The text, with the kernel's `\xNN` escapes decoded.
    public var message: [UInt8]

    public var isKernel: Bool { priority >> 3 == 0 }

    /// Parses one record as read() returns it.
    public static func parse(_ raw: some Collection<UInt8>) -> KmsgRecord? {
        let bytes = Array(raw)
        guard let semi = bytes.firstIndex(of: 0x3b) else { return nil }
        let header = bytes[..<semi].split(separator: 0x2c, omittingEmptySubsequences: false)
        guard header.count >= 3,
              let pri = Int(String(decoding: header[0], as: UTF8.self)),
              let seq = UInt64(String(decoding: header[1], as: UTF8.self)),
              let usec = UInt64(String(decoding: header[2], as: UTF8.self)) else { return nil }
        let end = bytes[(semi + 1)...].firstIndex(of: 0x0a) ?? bytes.count
        return KmsgRecord(priority: pri, sequence: seq, microseconds: usec,
                          message: unescape(bytes[(semi + 1)..<end]))
    }

    /// The kernel writes bytes outside printable ASCII, and the backslash, as `\xNN`.
    static func unescape(_ s: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x61...0x66: return b - 0x61 + 10
            case 0x41...0x46: return b - 0x41 + 10
            default: return nil
            }
        }
        while i < s.endIndex {
            if s[i] == 0x5c, i + 3 < s.endIndex, s[i + 1] == 0x78, let h = hex(s[i + 2]), let l = hex(s[i + 3]) {
                out.append(h << 4 | l)
                i += 4
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}

/// Reads the records now in the kernel's ring buffer through /dev/kmsg, without waiting
/// for new ones. Each open gets its own read position, so this takes nothing from other
/// readers (journald, dmesg).
public enum Kmsg {
    public static let path = "/dev/kmsg"

    public struct Outcome: Sendable {
        public var records = 0
        /// Times the ring buffer overwrote records before they could be read (EPIPE).
        public var overrun = 0
        public var firstSequence: UInt64?
        public var lastSequence: UInt64?
    }

    /// Calls `body` for each record now in the buffer, oldest first.
    public static func read(path: String = Kmsg.path, _ body: (KmsgRecord) throws -> Void) throws(AuditLogError) -> Outcome {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw AuditLogError.fromErrno(path: path) }
        defer { close(fd) }
        var outcome = Outcome()
        // A record is at most about 8 KiB (1 KiB of text, escaped, plus its dictionary);
        // a smaller buffer makes read() fail with EINVAL.
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                switch errno {
                case EAGAIN: return outcome
                case EINTR: continue
                case EPIPE: outcome.overrun += 1; continue  // the next read resumes at the oldest record left
                default: throw .unreadable(path: path, reason: String(cString: strerror(errno)))
                }
            }
            if n == 0 { return outcome }
            guard let record = KmsgRecord.parse(buffer[0..<n]) else { continue }
            outcome.records += 1
            if outcome.firstSequence == nil { outcome.firstSequence = record.sequence }
            outcome.lastSequence = record.sequence
            do { try body(record) } catch {
                throw .unreadable(path: path, reason: "\(error)")
            }
        }
    }

    /// This boot's id: kmsg sequence numbers restart at boot.
    public static func bootID() -> String? {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The wall-clock time of boot as printk counts it. printk's clock stops while the
    /// machine is suspended, as CLOCK_MONOTONIC does (CLOCK_BOOTTIME and /proc/uptime do not
    /// stop), so this is exact for messages since the last resume.
    public static func bootTime() -> Double {
        var real = timespec(), mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return Double(real.tv_sec - mono.tv_sec) + Double(real.tv_nsec - mono.tv_nsec) / 1e9
    }

    /// The host name, as kernel kills from /dev/kmsg are marked.
    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
