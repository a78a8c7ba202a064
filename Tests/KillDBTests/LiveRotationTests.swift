import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndKernelTests {
    /// The operator's worst day: auditd rotating 1 MB logs every few seconds, deleting the
    /// oldest, while signals pour in and `killdb ingest` runs on a timer. Every signal sent
    /// must be in the database exactly once.
    ///
    /// Nested in the real-kernel suite so it inherits `.serialized` and `.enabled(if:)`:
    /// only one auditd can own the kernel's audit socket.
    @Suite("live rotation: ingest on a timer while auditd rotates logs away")
    struct LiveRotationTests {
        @Test("in-process ingest every second")
        func inProcessEverySecond() throws {
            try scenario(interval: 1, cli: nil)
        }

        @Test("CLI `killdb ingest` every 2 s, like cron")
        func cliEveryTwoSeconds() throws {
            try scenario(interval: 2, cli: try KillDBCLI.require())
        }

        func scenario(interval: Double, cli: KillDBCLI?) throws {
            let sandbox = try AuditSandbox()
            defer { sandbox.stop() }
            // 1 MB files, three kept: ~6500 events (~3.5 MB) rotate several times and delete the oldest.
            sandbox.maxLogFileMB = 1
            sandbox.numLogs = 3
            try sandbox.start()
            let auditctl = AuditSandbox.availability.auditctl
            let lostBefore = try AuditSandbox.auditStatus(auditctl)["lost"] ?? 0
            let db = sandbox.directory + "/killdb.sqlite"
            let logDir = sandbox.logDirectory
            let victim = try sandbox.startVictim()
            let target = Int64(victim.processIdentifier)

            let watcher = LogWatcher(directory: logDir)
            watcher.start()
            let ingester = PeriodicIngest(interval: interval) {
                if let cli {
                    let r = cli.run(["ingest", "--db", db, "--quiet", logDir])
                    return r.status == 0 && r.stderr.isEmpty ? nil : "killdb ingest: \(r)"
                }
                do { _ = try Ingest.run(paths: [logDir], databasePath: db); return nil } catch {
                    return "Ingest.run: \(error)"
                }
            }
            ingester.start()

            // SIGCONT is harmless to a sleeping victim; every call is audited either way.
            var loops: [(name: String, loop: AuditSandbox.SenderLoop)] = []
            loops.append(("kill b64", try sandbox.startLoop(.b64, "kill", signal: SIGCONT, pid: target, count: 6000, rate: 700)))
            loops.append(("tgkill b64", try sandbox.startLoop(.b64, "tgkill", signal: SIGCONT, pid: target, count: 250, rate: 30)))
            if sandbox.senderPaths[.b32] != nil {
                loops.append(("kill b32", try sandbox.startLoop(.b32, "kill", signal: SIGCONT, pid: target, count: 250, rate: 30)))
            } else {
                AuditSandbox.loud("*** live rotation: no 32-bit sender (\(sandbox.senderUnavailableReason[.b32] ?? "?")) ***")
            }
            var sent: [(name: String, pid: pid_t, calls: Int, failed: Int)] = []
            for (name, loop) in loops {
                let r = try loop.wait()
                sent.append((name, loop.pid, r.sent + r.failed, r.failed))
            }
            // Events reach the log in order: once this one is on disk, all of the loops' are.
            let marker = try sandbox.send(.b64, "kill", signal: 0, pid: target)
            try sandbox.waitForEvent(senderPID: marker.pid)
            let runs = ingester.stop()
            let sizesAtEnd = watcher.sample()
            if let error = ingester.finalRun() { Issue.record("final ingest: \(error)") }
            let seen = watcher.stop()
            let lost = (try AuditSandbox.auditStatus(auditctl)["lost"] ?? 0) - lostBefore

            for e in ingester.errors { Issue.record("periodic ingest failed: \(e)") }
            #expect(runs >= 4, "only \(runs) periodic ingests ran")
            let remaining = Set(sizesAtEnd.keys)
            let rotatedAway = seen.keys.filter { !remaining.contains($0) }
            #expect(seen.count >= 3 && !rotatedAway.isEmpty,
                    "auditd must have rotated and deleted logs during the test; saw \(seen.count) files, \(rotatedAway.count) deleted")

            // Exactly one row per call, per sender.
            let queue = try DatabaseQueue(path: db)
            for s in sent {
                #expect(s.failed == 0, "\(s.name): \(s.failed) calls failed")
                let (rows, events) = try queue.read { d -> (Int, Int) in
                    let r = try Row.fetchOne(d, sql: """
                        SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS e FROM signals WHERE sender_pid = ?
                        """, arguments: [s.pid])!
                    return (r["n"], r["e"])
                }
                #expect(rows == s.calls && events == s.calls,
                        "\(s.name) (pid \(s.pid)) made \(s.calls) calls; the database holds \(rows) rows, \(events) events (kernel lost \(lost) records)")
            }
            let dupes = try queue.read { try Row.fetchAll($0, sql: """
                SELECT event_id, target_pid, COUNT(*) AS n FROM signals GROUP BY event_id, target_pid HAVING n > 1
                """) }
            #expect(dupes.isEmpty, "duplicated rows: \(dupes.prefix(5))")

            // Every file that existed was read, from its first byte to (at least) the last size seen,
            // with no gap between one run's end and the next run's start.
            // A read belongs to the file with its inode whose first record is the latest not after
            // the read's first event; a second's slack, as records are not logged in stamp order
            // and a reused inode's files are several seconds apart. Reads of no bytes say nothing.
            let reads = try queue.read { try Row.fetchAll($0, sql: """
                SELECT inode, start_offset, end_offset, first_event_time FROM file_reads WHERE end_offset > start_offset
                """) }
            var spans: [WatchedFile: [(Int64, Int64)]] = [:]
            for r in reads {
                let inode = UInt64(bitPattern: r["inode"] as Int64)
                let t: Double = r["first_event_time"] ?? 0
                guard let file = seen.keys.filter({ $0.inode == inode && $0.firstTime <= t + 1 })
                    .max(by: { $0.firstTime < $1.firstTime }) else {
                    Issue.record("a read of inode \(inode) at \(t) matches no log file seen: \(r)")
                    continue
                }
                spans[file, default: []].append((r["start_offset"], r["end_offset"]))
            }
            for (file, seenSize) in seen {
                let size = sizesAtEnd[file] ?? seenSize
                guard let s = spans[file] else {
                    Issue.record("log file \(file) (\(size) bytes) was never read")
                    continue
                }
                var covered: Int64 = 0
                for (start, end) in s.sorted(by: { $0.0 < $1.0 }) {
                    if start > covered {
                        Issue.record("\(file): bytes \(covered)..<\(start) never read; reads \(s)")
                    }
                    covered = max(covered, end)
                }
                #expect(covered >= size, "\(file): read up to \(covered) of \(size) bytes")
            }
            AuditSandbox.loud("live rotation (\(cli == nil ? "in-process" : "CLI") every \(Int(interval)) s): "
                + "\(runs) periodic ingests, \(seen.count) log files (\(rotatedAway.count) rotated away, "
                + "\(seen.values.reduce(0, +) >> 10) KiB), "
                + "calls \(sent.map { "\($0.name)=\($0.calls)" }.joined(separator: " ")), kernel lost \(lost)")
        }
    }
}

/// One log file as the watcher saw it. ext4 reuses a deleted log's inode for the next
/// audit.log at once, so a file is its inode plus the time stamp of its first record.
struct WatchedFile: Hashable, CustomStringConvertible {
    var inode: UInt64
    var firstTime: Double
    var description: String { "inode \(inode) from \(String(format: "%.3f", firstTime))" }
}

/// Polls a log directory, remembering every log file and the largest size seen.
final class LogWatcher: @unchecked Sendable {
    private let directory: String
    private let lock = NSLock()
    private var seen: [WatchedFile: Int64] = [:]
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(directory: String) { self.directory = directory }

    /// Current log files with a complete first record: file -> size.
    func sample() -> [WatchedFile: Int64] {
        var out: [WatchedFile: Int64] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix("audit.log") {
            let fd = open(directory + "/" + name, O_RDONLY)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            var head = [UInt8](repeating: 0, count: 512)
            let n = read(fd, &head, head.count)
            guard fstat(fd, &st) == 0, n > 0, let nl = head[0..<n].firstIndex(of: 0x0a) else { continue }
            let line = String(decoding: head[0..<nl], as: UTF8.self)
            guard let open = line.range(of: "msg=audit("), let colon = line[open.upperBound...].firstIndex(of: ":"),
                  let t = Double(line[open.upperBound..<colon]) else { continue }
            out[WatchedFile(inode: UInt64(st.st_ino), firstTime: t)] = Int64(st.st_size)
        }
        return out
    }

    func start() {
        Thread {
            while self.lock.withLock({ self.running }) {
                let now = self.sample()
                self.lock.withLock { self.seen.merge(now) { max($0, $1) } }
                usleep(20_000)
            }
            self.done.signal()
        }.start()
    }

    func stop() -> [WatchedFile: Int64] {
        lock.withLock { running = false }
        done.wait()
        let now = sample()
        return lock.withLock { seen.merging(now) { max($0, $1) } }
    }
}

/// Runs an ingest every `interval` seconds on its own thread, like a timer; `body` returns
/// an error description or nil.
final class PeriodicIngest: @unchecked Sendable {
    private let interval: Double
    private let body: @Sendable () -> String?
    private let lock = NSLock()
    private var running = true
    private var count = 0
    private(set) var errors: [String] = []
    private let done = DispatchSemaphore(value: 0)

    init(interval: Double, body: @escaping @Sendable () -> String?) {
        self.interval = interval
        self.body = body
    }

    func start() {
        Thread {
            var next = Date()
            while self.lock.withLock({ self.running }) {
                let error = self.body()
                self.lock.withLock {
                    self.count += 1
                    if let error { self.errors.append(error) }
                }
                next = next.addingTimeInterval(self.interval)
                while self.lock.withLock({ self.running }), Date() < next { usleep(20_000) }
            }
            self.done.signal()
        }.start()
    }

    /// Stops after the run in progress; returns how many runs there were.
    func stop() -> Int {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { count }
    }

    func finalRun() -> String? { body() }
}
