import AuditDecoding
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from finding and reading log files, worded for the operator.
public enum AuditLogError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case permissionDenied(path: String)
    case noLogsInDirectory(path: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "\(path): no such file or directory"
        case .permissionDenied(let path):
            return "\(path): permission denied. Audit logs are readable by root (and by the group named by log_group in auditd.conf): run as root or add this user to that group."
        case .noLogsInDirectory(let path):
            return "\(path): no audit.log or rotated audit.log.N in this directory. Name the log files instead, or the directory auditd writes to (log_file in /etc/audit/auditd.conf)."
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        }
    }
}

/// One log file as found on disk: what identifies it across renames and what it holds now.
public struct LogFile: Sendable, Equatable {
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// Seconds since the file was last written; the last line of a file nobody is writing
    /// is complete even without a newline.
    public var modifiedAgo: Double

    /// Opens `path` for reading. The descriptor keeps the file readable under its original
    /// content even if rotation renames or deletes it while killdb works.
    public static func open(_ path: String) throws(AuditLogError) -> (LogFile, fd: Int32) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errnoError(path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errnoError(path)
            close(fd)
            throw e
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let ago = Double(now.tv_sec - st.st_mtim.tv_sec) + Double(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9
        return (LogFile(path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino),
                        size: Int64(st.st_size), modifiedAgo: ago), fd)
    }
}

func fileStatus(_ path: String) -> stat? {
    var st = stat()
    return lstatOrStat(path, &st) == 0 ? st : nil
}

private func lstatOrStat(_ path: String, _ st: inout stat) -> Int32 {
    stat(path, &st)
}

extension AuditLogError {
    /// The error `errno` now describes, for `path`.
    public static func fromErrno(path: String) -> AuditLogError { errnoError(path) }
}

func errnoError(_ path: String) -> AuditLogError {
    let e = errno
    switch e {
    case ENOENT, ENOTDIR: return .notFound(path: path)
    case EACCES, EPERM: return .permissionDenied(path: path)
    default: return .unreadable(path: path, reason: String(cString: strerror(e)))
    }
}

public enum LogFileSet {
    /// Expands the command line's paths into the files to read, oldest first: a directory
    /// means its `audit.log.N … audit.log.1, audit.log` (rotation renames upwards, so the
    /// highest number is the oldest). Files named explicitly are read in the order given.
    public static func expand(_ paths: [String]) throws(AuditLogError) -> [String] {
        try expandMarkingListed(paths).map(\.path)
    }

    /// Like `expand`, and says which files were found by listing a directory: one of those
    /// may vanish before it is opened (rotation deleted it), which is no error.
    public static func expandMarkingListed(_ paths: [String]) throws(AuditLogError) -> [(path: String, listed: Bool)] {
        var out: [(path: String, listed: Bool)] = []
        for path in paths {
            guard let st = fileStatus(path) else { throw errnoError(path) }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                out += try rotatedLogs(in: path).map { ($0, true) }
            } else {
                out.append((path, false))
            }
        }
        return out
    }

    static func rotatedLogs(in dir: String) throws(AuditLogError) -> [String] {
        guard let d = opendir(dir) else { throw errnoError(dir) }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            })
        }
        let base = dir.hasSuffix("/") ? dir : dir + "/"
        let files = rotationOrder(names)
        guard !files.isEmpty else { throw .noLogsInDirectory(path: dir) }
        return files.map { base + $0 }
    }

    /// The audit logs among `names`, oldest first: logrotate's dated copies
    /// (`audit.log-20261124[.gz]`), then `audit.log.N … audit.log.1` (auditd renames upwards,
    /// so the highest number is the oldest), each possibly compressed, then `audit.log`.
    /// `base` is auditd.conf's log_file name. The one rotation order: ingest, doctor and the
    /// tests all list logs with it.
    public static func rotationOrder(_ names: [String], base: String = "audit.log") -> [String] {
        var dated: [String] = []
        var numbered: [(Int, Int, String)] = []
        var current: [String] = []
        for name in names {
            if name == base {
                current.append(name)
            } else if name.hasPrefix(base + ".") {
                var rest = name.dropFirst(base.count + 1)
                var compressed = 0
                if let dot = rest.firstIndex(of: "."), Decompressor.kind(of: String(rest[dot...])) != nil {
                    rest = rest[..<dot]
                    compressed = 1
                }
                // A plain and a compressed copy of one rotation (logrotate mid-way): read
                // both; the second adds nothing.
                if let n = Int(rest), n > 0 { numbered.append((n, compressed, name)) }
            } else if name.hasPrefix(base + "-") {
                dated.append(name)
            }
        }
        return dated.sorted() + numbered.sorted { ($0.0, $0.1) > ($1.0, $1.1) }.map(\.2) + current
    }
}

/// The identity of a file's content: a hash of its first bytes. Rotation renames a file
/// without changing them; a new file under an old name (or a reused inode) has others.
public struct Fingerprint: Sendable, Equatable {
    public static let maxLength = 4096
    public var length: Int
    public var hash: Int64

    public init(length: Int, hash: Int64) {
        self.length = length
        self.hash = hash
    }

    /// Fingerprint of the first `length` bytes of the open file `fd`, nil if it is shorter.
    public static func of(fd: Int32, length: Int) -> Fingerprint? {
        guard length > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: length)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, 0) }
        guard got == length else { return nil }
        return Fingerprint(length: length, hash: fnv1a(buffer))
    }

    static func fnv1a(_ bytes: [UInt8]) -> Int64 { Int64(bitPattern: FNV1a.hash(bytes)) }
}
