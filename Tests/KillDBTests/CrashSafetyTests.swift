import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `killdb ingest` killed with SIGKILL (OOM killer, reboot, an impatient operator) at
/// arbitrary moments, then re-run: the database must end up exactly as one uninterrupted
/// ingest leaves it, with nothing lost and nothing stored twice.
@Suite("crash safety: SIGKILL mid-ingest")
struct CrashSafetyTests {
    @Test("killed at random moments, re-run to completion: same signals as one clean run")
    func killedAndResumed() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            var started = Date()
            let log = try BigLog.write(in: dir, signalEvents: 20_000)
            let generated = Date().timeIntervalSince(started)
            let reference = dir.appendingPathComponent("reference.sqlite")
            started = Date()
            _ = try TestLogs.ingest([log.directory], db: reference)
            let cleanTime = Date().timeIntervalSince(started)
            #expect(try TestLogs.eventCount(reference) == log.signalEvents, "the fixture itself must ingest whole")
            #expect(try TestLogs.rowCount(reference) == log.signalRows)

            // Printed so a failure can be replayed with the same moments.
            let seed = UInt64.random(in: 1...UInt64(UInt32.max))
            var rng = SplitMix(seed: seed)
            // Early kills land before the first commit (every 4096 events); later ones after some
            // commits, whose work must survive. Runs resume, so keep them short of a whole ingest.
            let span = max(cleanTime * 0.4, 0.6)
            var delays = [0.05, 0.15]
            for _ in 0..<3 { delays.append(Double.random(in: 0.3...0.6, using: &rng)) }
            for _ in 0..<3 { delays.append(Double.random(in: 0.6...span, using: &rng)) }
            let db = dir.appendingPathComponent("crashed.sqlite")
            var landed = 0
            var eventsBefore = 0
            for delay in delays {
                let p = try cli.start(["ingest", "--db", db.path, "--quiet", log.directory.path])
                usleep(useconds_t(delay * 1_000_000))
                kill(p.process.processIdentifier, SIGKILL)
                let r = p.finish()
                if r.killed {
                    landed += 1
                } else {
                    #expect(r.status == 0, "ingest that beat the kill at \(delay) s: \(r)")
                }
                // Whatever a killed run committed stays committed: no run may shrink the database.
                let now = (try? TestLogs.eventCount(db)) ?? 0
                #expect(now >= eventsBefore, "events went from \(eventsBefore) to \(now) after a kill at \(delay) s")
                eventsBefore = now
            }
            AuditSandbox.loud("crash safety: seed \(seed), \(log.bytes >> 20) MB log made in \(String(format: "%.1f", generated)) s, clean ingest \(String(format: "%.2f", cleanTime)) s, "
                + "\(landed)/\(delays.count) kills landed mid-ingest, \(eventsBefore) events committed before the last run")
            #expect(landed >= 3, "too few kills landed mid-ingest (seed \(seed)); the log is too small for this machine")

            let final = cli.run(["ingest", "--db", db.path, "--quiet", log.directory.path])
            #expect(final.status == 0, "final ingest: \(final)")
            try expectSameSignals(db, reference, context: "seed \(seed)")
            let stuck = try TestLogs.query(db, "SELECT COUNT(*) AS n FROM ingest_runs WHERE status = 'running'")
            #expect(stuck.first?["n"] == 0, "a killed run must be marked interrupted by the next one")

            // And once more: a complete database gains nothing from another run.
            #expect(cli.run(["ingest", "--db", db.path, "--quiet", log.directory.path]).status == 0)
            try expectSameSignals(db, reference, context: "after a further run")
        }
    }

    @Test("killed while the database is being created, then re-run")
    func killedDuringCreation() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let log = try BigLog.write(in: dir, signalEvents: 2_000)
            let reference = dir.appendingPathComponent("reference.sqlite")
            _ = try TestLogs.ingest([log.directory], db: reference)
            // Very early kills land in process start-up, schema creation or the first commit.
            for delay in [0.0, 0.005, 0.01, 0.02, 0.04] {
                let db = dir.appendingPathComponent("early-\(delay).sqlite")
                let p = try cli.start(["ingest", "--db", db.path, "--quiet", log.directory.path])
                if delay > 0 { usleep(useconds_t(delay * 1_000_000)) }
                kill(p.process.processIdentifier, SIGKILL)
                _ = p.finish()
                let r = cli.run(["ingest", "--db", db.path, "--quiet", log.directory.path])
                #expect(r.status == 0, "re-run after a kill at \(delay) s: \(r)")
                try expectSameSignals(db, reference, context: "kill at \(delay) s")
            }
        }
    }
}

/// The whole `signals` view must match, row for row (compared inside SQLite: fast even for
/// 20k rows in a debug build); and no (event, target) may appear twice.
func expectSameSignals(_ db: URL, _ reference: URL, context: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
    let queue = try DatabaseQueue(path: db.path)
    try queue.inDatabase { d in
        try d.execute(sql: "ATTACH DATABASE ? AS ref", arguments: [reference.path])
        defer { try? d.execute(sql: "DETACH DATABASE ref") }
        let columns = try Row.fetchAll(d, sql: "PRAGMA main.table_info(signals)")
            .map { $0["name"] as String }.filter { $0 != "event_rowid" }.map { "\"\($0)\"" }.joined(separator: ", ")
        let count = { (schema: String) in try Int.fetchOne(d, sql: "SELECT COUNT(*) FROM \(schema).signals") ?? -1 }
        let (got, want) = (try count("main"), try count("ref"))
        let missing = try Row.fetchAll(d, sql: "SELECT \(columns) FROM ref.signals EXCEPT SELECT \(columns) FROM main.signals LIMIT 3")
        let extra = try Row.fetchAll(d, sql: "SELECT \(columns) FROM main.signals EXCEPT SELECT \(columns) FROM ref.signals LIMIT 3")
        let dupes = try Row.fetchAll(d, sql: """
            SELECT event_id, target_pid, COUNT(*) AS n FROM main.signals GROUP BY event_id, target_pid HAVING n > 1 LIMIT 5
            """)
        #expect(got == want && missing.isEmpty && extra.isEmpty,
                "\(context): \(got) rows, want \(want); missing e.g. \(missing); extra e.g. \(extra)",
                sourceLocation: sourceLocation)
        #expect(dupes.isEmpty, "\(context): duplicated rows \(dupes)", sourceLocation: sourceLocation)
    }
}

// MARK: - The CLI as a child process

/// The `killdb` executable built beside the test bundle (`swift build --build-tests` builds both).
struct KillDBCLI {
    let path: String

    static let located: String? = {
        var candidates: [URL] = []
        if let arg0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: arg0).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let exe = Bundle.main.executableURL { candidates.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
        for b in Bundle.allBundles { candidates.append(b.bundleURL.deletingLastPathComponent()) }
        // swiftpm-testing-helper or an .xctest directory: walk up a few levels.
        for c in candidates {
            var dir = c
            for _ in 0..<4 {
                let exe = dir.appendingPathComponent("killdb").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: exe, isDirectory: &isDir), !isDir.boolValue,
                   FileManager.default.isExecutableFile(atPath: exe) { return exe }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }()

    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> KillDBCLI {
        let why = "no killdb executable beside the test bundle (\(CommandLine.arguments.first ?? "?")); build with `swift build --build-tests`"
        let path = try #require(located, Comment(rawValue: why), sourceLocation: sourceLocation)
        return KillDBCLI(path: path)
    }

    struct Result: CustomStringConvertible {
        var status: Int32
        var killed: Bool
        var stdout: String
        var stderr: String
        var description: String {
            "\(killed ? "killed by signal \(status)" : "exit \(status)"), stderr \(stderr.debugDescription)"
                + (stdout.isEmpty ? "" : ", stdout \(String(stdout.prefix(300)).debugDescription)")
        }
    }

    /// A running killdb; output is collected to files so a full pipe can never stall it.
    final class Running {
        let process: Process
        let outPath: String
        let errPath: String

        init(process: Process, outPath: String, errPath: String) {
            self.process = process
            self.outPath = outPath
            self.errPath = errPath
        }

        func finish() -> Result {
            process.waitUntilExit()
            defer {
                unlink(outPath)
                unlink(errPath)
            }
            let read = { (p: String) in (try? String(contentsOfFile: p, encoding: .utf8)) ?? "" }
            return Result(status: process.terminationStatus, killed: process.terminationReason == .uncaughtSignal,
                          stdout: read(outPath), stderr: read(errPath))
        }
    }

    func start(_ args: [String]) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["KILLDB_DB"] = nil
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        let base = NSTemporaryDirectory() + "/killdb-cli-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        try p.run()
        return Running(process: p, outPath: base + ".out", errPath: base + ".err")
    }

    /// Runs to completion; a failure to start is reported as exit 127.
    func run(_ args: [String]) -> Result {
        do { return try start(args).finish() } catch {
            return Result(status: 127, killed: false, stdout: "", stderr: "cannot start \(path): \(error)")
        }
    }
}

// MARK: - A big, realistic log

/// A log directory (audit.log.1 and audit.log) with `signalEvents` signal events as the
/// kernel writes them (SYSCALL, OBJ_PID per target, PROCTITLE), among non-signal events
/// (file syscalls with CWD/PATH, PAM records), sometimes interleaved record by record.
struct BigLog {
    var directory: URL
    var signalEvents: Int
    var signalRows: Int
    var bytes: Int

    static func write(in dir: URL, signalEvents: Int, seed: UInt64 = 42) throws -> BigLog {
        let logs = dir.appendingPathComponent("audit", isDirectory: true)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        var rng = SplitMix(seed: seed)
        var serial = 1000
        var ms = 0
        var rows = 0
        var total = 0
        let base = 1_700_000_000
        func stamp(_ serial: Int) -> String {
            "\(base + ms / 1000).\(String(format: "%03d", ms % 1000)):\(serial)"
        }
        for (part, name) in ["audit.log.1", "audit.log"].enumerated() {
            var out = ""
            out.reserveCapacity(signalEvents * 900)
            let count = part == 0 ? signalEvents / 2 : signalEvents - signalEvents / 2
            for _ in 0..<count {
                ms += Int.random(in: 1...7, using: &rng)
                // Non-signal events before this one.
                for _ in 0..<Int.random(in: 0...2, using: &rng) {
                    serial += 1
                    out += noiseEvent(stamp(serial), &rng)
                }
                serial += 1
                let s = stamp(serial)
                let kind = Int.random(in: 0..<20, using: &rng)
                let sender = 3000 + Int.random(in: 0..<5000, using: &rng)
                let target = 10000 + Int.random(in: 0..<20000, using: &rng)
                let sig = [9, 15, 0, 18, 1][Int.random(in: 0..<5, using: &rng)]
                var records: [String] = []
                var targets: [Int] = []
                switch kind {
                case 0:  // a process group: three targets
                    targets = [target, target + 1, target + 2]
                    records.append(syscallLine(s, nr: 62, a0: -Int64(target), a1: sig, a2: 0, pid: sender, ok: true))
                case 1:  // ESRCH: no target record
                    records.append(syscallLine(s, nr: 62, a0: Int64(target), a1: sig, a2: 0, pid: sender, ok: false))
                case 2, 3:  // tgkill
                    targets = [target]
                    records.append(syscallLine(s, nr: 234, a0: Int64(target), a1: target, a2: sig, pid: sender, ok: true))
                default:
                    targets = [target]
                    records.append(syscallLine(s, nr: 62, a0: Int64(target), a1: sig, a2: 0, pid: sender, ok: true))
                }
                for t in targets {
                    records.append("type=OBJ_PID msg=audit(\(s)): opid=\(t) oauid=1000 ouid=1000 oses=3 obj=unconfined ocomm=\"worker-\(t % 97)\"\n")
                }
                records.append("type=PROCTITLE msg=audit(\(s)): proctitle=\(AuditLine.hex(Array("kill\u{0}-\(sig)\u{0}\(target)".utf8)))\n")
                rows += max(targets.count, 1)
                // Now and then another event's records land between this one's.
                if records.count > 2, Int.random(in: 0..<10, using: &rng) == 0 {
                    serial += 1
                    records.insert(noiseEvent(stamp(serial), &rng), at: 1)
                }
                out += records.joined()
            }
            let url = logs.appendingPathComponent(name)
            try TestLogs.write(out, to: url)
            try TestLogs.age(url)
            total += out.utf8.count
        }
        return BigLog(directory: logs, signalEvents: signalEvents, signalRows: rows, bytes: total)
    }

    private static func syscallLine(_ s: String, nr: Int, a0: Int64, a1: Int, a2: Int, pid: Int, ok: Bool) -> String {
        let hex = { (v: Int64) in String(UInt64(bitPattern: v), radix: 16) }
        let result = ok ? "success=yes exit=0" : "success=no exit=-3"
        return "type=SYSCALL msg=audit(\(s)): arch=c000003e syscall=\(nr) \(result) a0=\(hex(a0)) a1=\(hex(Int64(a1))) a2=\(hex(Int64(a2))) a3=7f4c8bfadac0 items=0 ppid=\(pid - 1) pid=\(pid) auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"bash\" exe=\"/usr/bin/bash\" subj=unconfined key=\"killdb\"\n"
    }

    private static func noiseEvent(_ s: String, _ rng: inout SplitMix) -> String {
        if Int.random(in: 0..<2, using: &rng) == 0 {
            return AuditLine.noise(s)
        }
        return """
            type=SYSCALL msg=audit(\(s)): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd2b1c a2=0 a3=0 items=1 ppid=1 pid=812 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="cron" exe="/usr/sbin/cron" subj=unconfined key="files"
            type=CWD msg=audit(\(s)): cwd="/"
            type=PATH msg=audit(\(s)): item=0 name="/etc/crontab" inode=131 dev=fd:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
            type=PROCTITLE msg=audit(\(s)): proctitle=2F7573722F7362696E2F63726F6E002D66

            """
    }
}

/// A tiny seeded generator, so a failing run's random choices can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
