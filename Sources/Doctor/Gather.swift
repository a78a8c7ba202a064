import AuditLog
import AuditRules
import Foundation
import Tracer
import GRDB
import Quantities
import Store
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where `killdb doctor` looks.
public struct DoctorOptions: Sendable {
    public var databasePath: String
    public var auditDirectory: String
    public var configPath: String
    /// Both usually /proc/cmdline and auditctl from sbin; tests may point elsewhere.
    public var cmdlinePath = "/proc/cmdline"
    public var auditctl: Auditctl?

    public init(databasePath: String, auditDirectory: String = "/var/log/audit",
                configPath: String = "/etc/audit/auditd.conf") {
        self.databasePath = databasePath
        self.auditDirectory = auditDirectory
        self.configPath = configPath
    }
}

/// Reads the real host: auditctl, /proc, auditd.conf, the logs and the database. Nothing
/// here writes or changes anything.
public enum Gather {
    public static var isRoot: Bool { geteuid() == 0 }

    public static func inputs(_ options: DoctorOptions, now: Date = Date()) -> DoctorInputs {
        let root = isRoot
        var status: Probe<AuditStatus> = .skipped("needs root (auditctl talks to the kernel as root)")
        var rules: Probe<String> = .skipped("needs root (auditctl talks to the kernel as root)")
        var processName: String?
        var running: [RunningAuditd] = []
        if root {
            do {
                let auditctl = try options.auditctl ?? Auditctl.find()
                status = probe(auditctl, ["-s"]).map(AuditStatus.init(text:))
                rules = probe(auditctl, ["-l"])
                if let pid = status.value?.pid, pid > 0 { processName = Self.processName(pid_t(pid)) }
                if status.value?.pid == 0 { running = runningAuditd() }
            } catch {
                status = .failed("\(error)")
                rules = .failed("\(error)")
            }
        }
        let config = readConfig(options.configPath)
        let logGroup = config.value.map(\.logGroup) ?? "root"
        var inputs = DoctorInputs(
            auditStatus: status, auditdProcessName: processName, loadedRules: rules,
            cmdline: readText(options.cmdlinePath), config: config, configPath: options.configPath,
            logs: logDirectory(options.auditDirectory, base: config.value.map { ($0.logFile as NSString).lastPathComponent } ?? "audit.log",
                               logGroupID: groupID(logGroup)),
            database: database(options.databasePath), bpf: bpf(), now: now)
        inputs.runningAuditd = running
        inputs.signalRates = signalRates(inputs.logs)
        return inputs
    }

    /// The newest log's last bytes read for the signal-event rate: enough for minutes of a flood.
    static let rateSampleBytes: Int64 = 4 << 20

    static func signalRates(_ logs: LogDirectory) -> (rates: SignalRates, sampled: String)? {
        guard logs.access == .readable,
              let newest = logs.files.last(where: { Decompressor.kind(of: $0.name) == nil }),
              let h = FileHandle(forReadingAtPath: logs.path + "/" + newest.name) else { return nil }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        let start = size > UInt64(rateSampleBytes) ? size - UInt64(rateSampleBytes) : 0
        try? h.seek(toOffset: start)
        var data = (try? h.readToEnd()) ?? Data()
        // A tail read starts mid-line: drop the partial first line.
        if start > 0, let nl = data.firstIndex(of: 0x0a) { data = data[(nl + 1)...] }
        let sampled = start > 0 ? "the last \(Quantity.bytes(Double(size - start))) of \(newest.name)" : newest.name
        return (SignalRates.measure(data), sampled)
    }

    /// Live auditd processes, by their executable's name (comm when /proc/PID/exe is not
    /// readable). Only read: doctor never signals them.
    public static func runningAuditd(proc: String = "/proc") -> [RunningAuditd] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: proc) else { return [] }
        var found: [RunningAuditd] = []
        for entry in entries {
            guard let pid = Int32(entry), pid > 0 else { continue }
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(proc)/\(entry)/exe"))
                .map { $0.hasSuffix(" (deleted)") ? String($0.dropLast(" (deleted)".count)) : $0 }
            let name = exe.map { ($0 as NSString).lastPathComponent } ?? processName(pid)
            guard name == "auditd", processName(pid) != nil else { continue }
            found.append(RunningAuditd(pid: pid, executable: exe ?? "auditd"))
        }
        return found.sorted { $0.pid < $1.pid }
    }

    static func probe(_ auditctl: Auditctl, _ arguments: [String]) -> Probe<String> {
        do {
            let r = try auditctl.run(arguments)
            guard r.status == 0 else {
                let why = (r.stderr + r.stdout).split(whereSeparator: \.isNewline).joined(separator: "; ")
                return .failed("`auditctl \(arguments.joined(separator: " "))` failed (exit \(r.status)): \(why)")
            }
            return .value(r.stdout)
        } catch {
            return .failed("\(error)")
        }
    }

    /// /proc/PID/comm for a live, non-zombie process; nil otherwise.
    public static func processName(_ pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), !stat[close...].hasPrefix(") Z") else { return nil }
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?"
        return comm.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func readText(_ path: String) -> Probe<String> {
        do {
            return .value(try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            var st = stat()
            let absent = stat(path, &st) != 0 && errno == ENOENT
            return !absent && !isRoot ? .skipped("\(path) is not readable by us: needs root") : .failed("cannot read \(path)")
        }
    }

    static func readConfig(_ path: String) -> Probe<AuditdConfig> {
        // Only a file that is really absent means auditd's defaults; EACCES on /etc/audit does not.
        var st = stat()
        if stat(path, &st) != 0 && errno == ENOENT { return .value(.defaults) }
        switch readText(path) {
        case .value(let text): return .value(AuditdConfig(text: text))
        case .skipped(let why): return .skipped(why)
        case .failed(let why): return .failed(why)
        }
    }

    static func groupID(_ name: String) -> UInt32? {
        if let n = UInt32(name) { return n }
        return getgrnam(name).map { $0.pointee.gr_gid }
    }

    /// The directory's audit logs, oldest first, with the stamps the write rate needs.
    public static func logDirectory(_ path: String, base: String = "audit.log", logGroupID: UInt32? = nil) -> LogDirectory {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return LogDirectory(path: path, access: errno == ENOENT ? .missing : .denied(String(cString: strerror(errno))),
                                logGroupID: logGroupID)
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { return LogDirectory(path: path, access: .notADirectory) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            return LogDirectory(path: path, access: .denied(String(cString: strerror(EACCES))), logGroupID: logGroupID)
        }
        var files: [LogFileInfo] = []
        for name in LogDirectory.ordered(names, base: base) {
            var fs = stat()
            guard stat(path + "/" + name, &fs) == 0, fs.st_mode & S_IFMT == S_IFREG else { continue }
            var info = LogFileInfo(name: name, size: Int64(fs.st_size), mode: UInt32(fs.st_mode & 0o7777),
                                   uid: fs.st_uid, gid: fs.st_gid,
                                   modified: Date(timeIntervalSince1970: Double(fs.st_mtim.tv_sec)))
            // A compressed rotation counts as ingest reads it: the bytes auditd wrote.
            if Decompressor.kind(of: name) != nil { info.contentBytes = decompressedSize(path + "/" + name) }
            files.append(info)
        }
        if let oldest = files.first, let newest = files.last {
            let compressed = { (f: LogFileInfo) in Decompressor.kind(of: f.name) != nil }
            files[0].firstStamp = compressed(oldest) ? compressedFirstStamp(path + "/" + oldest.name)
                : firstStamp(path + "/" + oldest.name)
            // A compressed newest file (auditd stopped, only rotations left): its mtime serves.
            if !compressed(newest) { files[files.count - 1].lastStamp = lastStamp(path + "/" + newest.name) }
        }
        return LogDirectory(path: path, access: .readable, files: files, logGroupID: logGroupID)
    }

    /// A compressed log's size once decompressed: gzip's trailer says it (modulo 4 GiB, more
    /// than any rotation); other formats are counted through the decompressor.
    static func decompressedSize(_ path: String) -> Int64? {
        guard let (file, fd) = try? LogFile.open(path) else { return nil }
        defer { close(fd) }
        let reader = LogFileReader(file: file, fd: fd)
        if reader.compression == .gzip {
            var head = [UInt8](repeating: 0, count: 2), tail = [UInt8](repeating: 0, count: 4)
            guard file.size >= 18, pread(fd, &head, 2, 0) == 2, head == [0x1f, 0x8b],
                  pread(fd, &tail, 4, off_t(file.size - 4)) == 4 else { return nil }
            return tail.reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) }
        }
        guard let outcome = try? reader.read(from: 0, { _ in }), !outcome.damaged else { return nil }
        return outcome.end
    }

    private struct EnoughRead: Error {}

    /// The first stamp of a compressed log, from its first lines only.
    static func compressedFirstStamp(_ path: String) -> Double? {
        guard let (file, fd) = try? LogFile.open(path) else { return nil }
        defer { close(fd) }
        var head = Data()
        var first: Double?
        _ = try? LogFileReader(file: file, fd: fd).read(from: 0) { event in
            guard case .line(let line, _) = event else { return }
            head.append(contentsOf: line)
            head.append(0x0a)
            first = Stamps.all(in: head).first
            if first != nil || head.count >= 8192 { throw EnoughRead() }
        }
        return first
    }

    static func firstStamp(_ path: String) -> Double? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        let data = (try? h.read(upToCount: 8192)) ?? Data()
        return Stamps.all(in: data).first
    }

    static func lastStamp(_ path: String) -> Double? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        try? h.seek(toOffset: size > 65536 ? size - 65536 : 0)
        let data = (try? h.readToEnd()) ?? Data()
        return Stamps.all(in: data).last
    }

    static func tracerFacts(_ db: Database) throws -> TracerFacts? {
        guard let r = try Row.fetchOne(db, sql: """
            SELECT s.run_id, s.started_at, s.last_active_at, s.finished_at, s.signals, s.records, r.status
            FROM trace_sessions s JOIN ingest_runs r ON r.id = s.run_id ORDER BY s.started_at DESC LIMIT 1
            """) else { return nil }
        let since = Date().timeIntervalSince1970 - 86400
        let loss = try Row.fetchOne(db, sql: """
            SELECT coalesce(sum(lost), 0) AS n, min(from_time) AS a, max(to_time) AS b FROM trace_losses WHERE to_time >= ?
            """, arguments: [since])
        return TracerFacts(startedAt: r["started_at"], lastActiveAt: r["last_active_at"], finishedAt: r["finished_at"],
                           status: r["status"], signals: r["signals"], records: r["records"],
                           lostLastDay: loss?["n"] ?? 0, firstLossTime: loss?["a"], lastLossTime: loss?["b"])
    }

    /// BPF on this host: the prerequisites, and as root a trial load of the tracer's program
    /// (the verifier's word, not a guess), detached at once.
    public static func bpf() -> BPFProbe {
        if !isRoot { return BPFProbe(skipped: "needs root") }
        let a = TracerAvailability.check()
        if let p = a.problems.first { return BPFProbe(problem: p.reason, fix: p.fix) }
        do {
            let tracer = try SignalTracer(filter: .kill)
            tracer.close()
            return BPFProbe(proof: "loaded, verified and attached the tracer's program (then detached it)")
        } catch let TracerError.unavailable(reason, fix) {
            return BPFProbe(problem: reason, fix: fix)
        } catch {
            return BPFProbe(problem: "\(error)", fix: "report this with the kernel version (uname -r)")
        }
    }

    /// Facts from a read-only connection; never creates or migrates the database.
    public static func database(_ path: String) -> DatabaseProbe {
        guard access(path, F_OK) == 0 else { return .missing(path: path) }
        if access(path, R_OK) != 0 && !isRoot { return .needsRoot(path: path) }
        do {
            let store = try SignalStore.openReadOnly(path: path)
            let schema = try store.appliedMigrations().last
            return .facts(try store.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check").joined(separator: "\n")
                let span = try Row.fetchOne(db, sql: "SELECT min(first_event_time) AS a, max(last_event_time) AS b FROM file_reads")
                let gaps = try Row.fetchOne(db, sql: "SELECT count(*) AS n, coalesce(sum(missing), 0) AS m FROM lost_events")
                // The tracer's runs are no ingests: the freshness of the logs is not theirs to show.
                let hasTrace = try db.tableExists("trace_sessions")
                let notTrace = hasTrace ? "WHERE id NOT IN (SELECT run_id FROM trace_sessions)" : ""
                let runs = try Row.fetchAll(db, sql: "SELECT started_at, finished_at, status FROM ingest_runs \(notTrace) ORDER BY started_at DESC LIMIT 21")
                    .map { IngestRun(startedAt: $0["started_at"], finishedAt: $0["finished_at"], status: $0["status"]) }
                return DatabaseFacts(
                    path: path, quickCheck: check, schemaVersion: schema,
                    firstEventTime: span?["a"], lastEventTime: span?["b"],
                    signalEvents: try Int64.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0,
                    serialGaps: gaps?["n"] ?? 0, missingEvents: gaps?["m"] ?? 0, recentRuns: runs,
                    lastCompleteFinish: try Double.fetchOne(db, sql: "SELECT max(finished_at) FROM ingest_runs WHERE status = 'complete'"
                        + (hasTrace ? " AND id NOT IN (SELECT run_id FROM trace_sessions)" : "")),
                    tracer: hasTrace ? try tracerFacts(db) : nil)
            })
        } catch {
            return .unusable(path: path, reason: "\(error)")
        }
    }
}

/// `audit(SEC.MSEC:SERIAL)` stamps in raw log bytes.
public enum Stamps {
    public static func all(in data: Data) -> [Double] {
        let bytes = [UInt8](data)
        let marker = Array("audit(".utf8)
        var out: [Double] = []
        var i = 0
        while i + marker.count < bytes.count {
            if bytes[i] == marker[0], bytes[i..<(i + marker.count)].elementsEqual(marker) {
                var j = i + marker.count
                var sec: Int64 = 0
                var digits = 0
                while j < bytes.count, (0x30...0x39).contains(bytes[j]), digits < 12 {
                    sec = sec * 10 + Int64(bytes[j] - 0x30)
                    j += 1
                    digits += 1
                }
                if digits > 0, j < bytes.count, bytes[j] == UInt8(ascii: ".") { out.append(Double(sec)) }
                i = j
            } else {
                i += 1
            }
        }
        return out
    }
}

extension Probe {
    func map<T>(_ transform: (Value) -> T) -> Probe<T> {
        switch self {
        case .value(let v): return .value(transform(v))
        case .skipped(let s): return .skipped(s)
        case .failed(let s): return .failed(s)
        }
    }
}
