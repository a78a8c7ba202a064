import Foundation
import GRDB
import KillDB
import Store
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `killdb plugin` without a kernel: record lines as auditd's dispatcher writes them
/// (`format = string`, each event ended by EOE) go through a pipe into the stream ingest.
@Suite("auditd plugin: stream ingest")
struct PluginTests {
    // MARK: input

    /// Events as auditd hands them to a plugin.
    enum Stream {
        static func stamp(_ i: Int, base: Int = 1_700_100_000) -> String {
            "\(base + i / 100).\(String(format: "%03d", i % 100 * 7)):\(50_000 + i)"
        }

        static func eoe(_ stamp: String, node: String? = nil) -> String {
            "\(node.map { "node=\($0) " } ?? "")type=EOE msg=audit(\(stamp)): \n"
        }

        /// SYSCALL, OBJ_PID, PROCTITLE, EOE of `kill(target, 9)`; ENRICHED adds the names.
        static func kill(_ i: Int, node: String? = nil, enriched: Bool = false, base: Int = 1_700_100_000) -> String {
            let s = stamp(i, base: base)
            var syscall = AuditLine.killSyscall(s, target: Int64(10_000 + i), signal: 9, pid: 4000 + i % 50, node: node)
            var obj = AuditLine.objPID(s, pid: 10_000 + i, node: node)
            if enriched {
                syscall = String(syscall.dropLast()) + "\u{1d}ARCH=x86_64 SYSCALL=kill AUID=\"alice\" UID=\"bob\" GID=\"bob\" EUID=\"bob\"\n"
                obj = String(obj.dropLast()) + "\u{1d}OAUID=\"alice\" OUID=\"postgres\"\n"
            }
            return syscall + obj + AuditLine.proctitle(s, argv: ["kill", "-9", "\(10_000 + i)"], node: node) + eoe(s, node: node)
        }

        static func kills(_ range: Range<Int>, node: String? = nil, base: Int = 1_700_100_000) -> String {
            range.map { kill($0, node: node, base: base) }.joined()
        }

        /// Two events whose records interleave, as a busy kernel emits them, plus noise.
        static func interleaved(_ a: Int, _ b: Int) -> String {
            let sa = stamp(a), sb = stamp(b)
            return AuditLine.killSyscall(sa, target: Int64(10_000 + a), signal: 9)
                + AuditLine.killSyscall(sb, target: Int64(10_000 + b), signal: 15)
                + AuditLine.noise(stamp(a + 1000))
                + AuditLine.objPID(sb, pid: 10_000 + b)
                + AuditLine.objPID(sa, pid: 10_000 + a)
                + AuditLine.proctitle(sa, argv: ["kill", "-9", "\(10_000 + a)"])
                + eoe(sa)
                + AuditLine.proctitle(sb, argv: ["kill", "-15", "\(10_000 + b)"])
                + eoe(sb)
        }
    }

    /// The stream ingest on its own thread, reading the other end of a pipe.
    final class Running: @unchecked Sendable {
        let control = LiveIngestControl()
        let input: FileHandle
        private let lock = NSLock()
        private var result: Result<LiveIngestStatus, any Error>?
        private let done = DispatchSemaphore(value: 0)

        init(db: URL, options: LiveIngestOptions = LiveIngestOptions()) throws {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw CocoaError(.fileWriteUnknown) }
            input = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
            let (readEnd, control, path) = (fds[0], control, db.path)
            Thread { [self] in
                let r = Result { try LiveIngest.run(input: readEnd, databasePath: path, options: options, control: control) }
                close(readEnd)
                lock.withLock { result = r }
                done.signal()
            }.start()
        }

        func send(_ text: String) { input.write(Data(text.utf8)) }

        /// Closes the pipe (end of input) and waits for the ingest to return.
        func finish(timeout: Double = 30) throws -> LiveIngestStatus {
            try? input.close()
            return try wait(timeout: timeout)
        }

        func wait(timeout: Double = 30) throws -> LiveIngestStatus {
            guard done.wait(timeout: .now() + timeout) == .success else {
                throw CocoaError(.userCancelled, userInfo: [NSLocalizedDescriptionKey: "stream ingest did not return within \(timeout) s"])
            }
            return try lock.withLock { result! }.get()
        }
    }

    /// An open write transaction on its own thread, as a long ingest commit holds one.
    final class WriteLockHolder: @unchecked Sendable {
        private let release_ = DispatchSemaphore(value: 0)
        private let released = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var done = false

        init(path: String) throws {
            let queue = try DatabaseQueue(path: path)
            let holding = DispatchSemaphore(value: 0)
            Thread { [self] in
                try? queue.write { db in
                    try db.execute(sql: "INSERT INTO strings(value) VALUES (x'00')")
                    holding.signal()
                    release_.wait()
                    throw CancellationError()  // roll back
                }
                holding.signal()
                released.signal()
            }.start()
            holding.wait()
        }

        func release() {
            let first = lock.withLock { () -> Bool in
                defer { done = true }
                return !done
            }
            guard first else { return }
            release_.signal()
            released.wait()
        }
    }

    static func options() -> LiveIngestOptions {
        var o = LiveIngestOptions()
        o.busyTimeout = 0.2
        o.retryInterval = 0.1
        return o
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(_ timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    static func count(_ db: URL) -> Int { (try? TestLogs.eventCount(db)) ?? 0 }

    // MARK: tests

    @Test("fatal signals the kernel delivered (SECCOMP, ANOM_ABEND) arriving live are stored as kernel kills")
    func kernelKillsLive() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let plugin = try Running(db: db, options: Self.options())
            plugin.send("""
                type=SECCOMP msg=audit(1795600200.500:1001): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined pid=8200 comm="chrome" exe="/opt/chrome/chrome" sig=31 arch=c000003e syscall=101 compat=0 ip=0x7f12345678 code=0x0
                type=EOE msg=audit(1795600200.500:1001):
                type=ANOM_ABEND msg=audit(1795600300.700:1003): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined pid=8300 comm="crashy" exe="/usr/local/bin/crashy" sig=11 res=1
                type=EOE msg=audit(1795600300.700:1003):

                """)
            _ = try plugin.finish()
            let kills = try TestLogs.query(db, "SELECT kind, pid, signal_name FROM kernel_kills ORDER BY pid")
            #expect(kills.map { $0["kind"] as String } == ["seccomp", "abend"])
            #expect(kills.map { $0["pid"] as Int64 } == [8200, 8300])
        }
    }

    @Test("node-prefixed, ENRICHED and interleaved events are stored as they arrive; end of input flushes")
    func storesAsTheyArrive() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let plugin = try Running(db: db, options: Self.options())
            plugin.send(Stream.kill(0))
            // Stored within the commit interval, with the pipe still open.
            #expect(Self.eventually { Self.count(db) == 1 }, "an event must be stored while the plugin runs")
            plugin.send(Stream.kill(1, node: "web1") + Stream.kill(2, enriched: true) + Stream.interleaved(3, 4))
            // The last event lacks its EOE: only the end of input completes it.
            let s = Stream.stamp(5)
            plugin.send(AuditLine.killSyscall(s, target: 10_005, signal: 9) + AuditLine.objPID(s, pid: 10_005))
            let status = try plugin.finish()
            #expect(status.newEvents == 6)
            #expect(status.linesRead == 23)

            let rows = try TestLogs.signals(db)
            #expect(rows.count == 6)
            let byTarget = Dictionary(uniqueKeysWithValues: rows.map { ($0["target_pid"] as Int64, $0) })
            #expect(byTarget[10_001]?["node"] as String? == "web1")
            #expect(byTarget[10_000]?["node"] as String? == nil)
            #expect(byTarget[10_002]?["sender_uid_name"] as String? == "bob")
            #expect(byTarget[10_002]?["target_uid_name"] as String? == "postgres")
            #expect(byTarget[10_004]?["signal"] as Int64? == 15)
            #expect(byTarget[10_003]?["sender_cmdline"] as String? == "kill -9 10003")
            #expect(byTarget[10_005]?["event_id"] as String? == s)

            // Coverage: one run, complete, with the stream's time span.
            let runs = try TestLogs.query(db, "SELECT * FROM ingest_runs")
            #expect(runs.count == 1)
            #expect(runs.first?["status"] as String? == "complete")
            #expect(runs.first?["hostname"] as String? == ProcessInfo.processInfo.hostName)
            #expect(runs.first?["new_events"] as Int64? == 6)
            let reads = try TestLogs.query(db, "SELECT CAST(path AS TEXT) AS path, first_event_time, last_event_time, signal_events FROM file_reads")
            #expect(reads.count == 1)
            #expect(reads.first?["path"] as String? == LiveIngest.streamPath)
            #expect(reads.first?["signal_events"] as Int64? == 6)
            let first: Double = reads.first?["first_event_time"] ?? 0
            let last: Double = reads.first?["last_event_time"] ?? 0
            #expect(first == 1_700_100_000 && last >= 1_700_100_010)
        }
    }

    @Test("a locked database: lines go to the spool, are stored once it unlocks, and ingest of the log adds nothing")
    func lockedDatabaseSpools() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try SignalStore.openForWriting(path: db.path)
            // Another writer holds the database, far longer than the busy timeout.
            let holder = try WriteLockHolder(path: db.path)
            defer { holder.release() }

            let first = Stream.kills(0..<20)
            let second = Stream.kills(20..<50, node: "db2")
            let plugin = try Running(db: db, options: Self.options())
            plugin.send(first)
            #expect(Self.eventually { plugin.control.status.spooling }, "a locked database must send lines to the spool")
            plugin.send(second)
            #expect(Self.eventually { plugin.control.status.spooledLines >= 30 * 4 }, "\(plugin.control.status)")
            let spool = db.path + ".spool"
            #expect(try TestLogs.size(URL(fileURLWithPath: spool)) > 0)
            #expect(Self.count(db) == 0)

            holder.release()
            #expect(Self.eventually { Self.count(db) == 50 }, "spooled events must be stored once the database unlocks: \(Self.count(db))")
            #expect(Self.eventually { plugin.control.status.spoolBytes == 0 }, "the replayed spool must be emptied")
            // New lines flow straight through again.
            plugin.send(Stream.kill(50))
            let status = try plugin.finish()
            #expect(status.newEvents == 51)
            #expect(!status.spooling)
            #expect(try TestLogs.size(URL(fileURLWithPath: spool)) == 0)
            #expect(Self.count(db) == 51)

            // The same records read from a log (auditd writes no EOE there) add nothing.
            let before = try TestLogs.snapshot(db)
            let log = dir.appendingPathComponent("audit.log")
            let text = (first + second + Stream.kill(50)).split(separator: "\n").filter { !$0.contains("type=EOE") }
                .map { $0 + "\n" }.joined()
            try TestLogs.write(text, to: log)
            try TestLogs.age(log)
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.totals.signalEvents == 51)
            #expect(summary.totals.newEvents == 0)
            #expect(try TestLogs.snapshot(db) == before)
        }
    }

    @Test("kill -9 while the database is locked loses nothing: what the writer took is spooled; a restart stores it all")
    func killedWhileLocked() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let spool = URL(fileURLWithPath: db.path + ".spool")
            func start(stdin: Any) throws -> (Process, String) {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: cli.path)
                p.arguments = ["plugin", "--db=\(db.path)", "--busy-timeout", "0.2"]
                p.environment = [:]
                p.standardInput = stdin
                let errPath = dir.appendingPathComponent("stderr-\(UUID().uuidString)").path
                FileManager.default.createFile(atPath: errPath, contents: nil)
                p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                return (p, errPath)
            }
            let stdin = Pipe()
            let (p, errPath) = try start(stdin: stdin)
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
            let stderr = { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
            stdin.fileHandleForWriting.write(Data(Stream.kills(0..<1).utf8))
            try #require(Self.eventually { Self.count(db) == 1 }, "stderr: \(stderr())")

            // Another writer holds the database; the plugin takes 50 events off its queue,
            // fails to commit them, and says it is spooling.
            let holder = try WriteLockHolder(path: db.path)
            defer { holder.release() }
            stdin.fileHandleForWriting.write(Data(Stream.kills(1..<51).utf8))
            try #require(Self.eventually { stderr().contains("spooling until it is writable") }, "stderr: \(stderr())")
            _ = Self.eventually(3) { ((try? TestLogs.size(spool)) ?? 0) >= 50 * 4 * 60 }
            usleep(200_000)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            holder.release()
            #expect(try TestLogs.size(spool) > 0, "the lines taken for the failed commit must be in the spool")

            // Restarted with nothing more to read: the spool is replayed and stored.
            let (again, againErr) = try start(stdin: FileHandle.nullDevice)
            let deadline = Date().addingTimeInterval(20)
            while again.isRunning && Date() < deadline { usleep(20_000) }
            if again.isRunning { kill(again.processIdentifier, SIGKILL); again.waitUntilExit() }
            #expect(again.terminationStatus == 0, "\((try? String(contentsOfFile: againErr, encoding: .utf8)) ?? "")")
            #expect(Self.count(db) == 51, "every event auditd handed over must be stored")
            #expect(try TestLogs.size(spool) == 0)
        }
    }

    @Test("kill -9 at random moments while the database is writable loses nothing: the spool is a write-ahead log")
    func killedWhileWritable() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let spool = URL(fileURLWithPath: db.path + ".spool")
            // One pipe outlives every plugin process, so what one did not read the next
            // does: all that is lost is what a killed plugin read and did not keep.
            var fds: [Int32] = [0, 0]
            try #require(pipe(&fds) == 0)
            let input = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
            let feed = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
            func start() throws -> Process {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: cli.path)
                p.arguments = ["plugin", "--db=\(db.path)"]
                p.environment = [:]
                p.standardInput = input
                p.standardError = FileHandle.nullDevice
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                return p
            }
            let seed: UInt64 = 17
            var rng = SplitMix(seed: seed)
            let rounds = 20, perRound = 200
            // Whole events per write, under PIPE_BUF: as auditd writes, no read splits a line.
            var writes: [String] = []
            var i = 0
            while i < rounds * perRound {
                let n = min(Int.random(in: 1...6, using: &rng), rounds * perRound - i)
                writes.append((i..<i + n).map { Stream.kill($0) + AuditLine.noise(Stream.stamp($0 + 100_000)) }.joined())
                i += n
            }
            let pauses = writes.map { _ in useconds_t.random(in: 0...3_000, using: &rng) }
            let kills = (0..<rounds).map { _ in useconds_t.random(in: 20_000...250_000, using: &rng) }
            let fed = DispatchSemaphore(value: 0)
            let stream = Array(zip(writes, pauses))
            Thread {
                for (w, pause) in stream {
                    feed.write(Data(w.utf8))
                    usleep(pause)
                }
                fed.signal()
            }.start()

            var p = try start()
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
            for wait in kills {
                usleep(wait)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                p = try start()
            }
            fed.wait()
            try feed.close()
            let deadline = Date().addingTimeInterval(60)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            try #require(!p.isRunning, "the last plugin did not exit at end of input")
            #expect(p.terminationStatus == 0)
            let stored = try TestLogs.query(db, "SELECT COUNT(*) AS rows, COUNT(DISTINCT event_id) AS events FROM signals").first
            let targets = Set(try TestLogs.query(db, "SELECT target_pid FROM signals WHERE target_pid IS NOT NULL").map { Int($0["target_pid"] as Int64) - 10_000 })
            let missing = (0..<rounds * perRound).filter { !targets.contains($0) }
            let noTarget = try TestLogs.query(db, "SELECT event_id FROM signals WHERE target_pid IS NULL").map { $0["event_id"] as String? ?? "?" }
            #expect(noTarget.isEmpty, "seed \(seed): every event's OBJ_PID must be stored with it; without: \(noTarget)")
            if !noTarget.isEmpty { try? FileManager.default.copyItem(at: db, to: URL(fileURLWithPath: "/tmp/lossless-notarget.sqlite")) }
            #expect(stored?["events"] as Int? == rounds * perRound, "seed \(seed): every event handed over must be stored; missing \(missing)")
            #expect(stored?["rows"] as Int? == rounds * perRound, "seed \(seed): each exactly once")
            #expect(try TestLogs.size(spool) == 0, "all of the spool is stored: it is emptied")
        }
    }

    /// Messages the ingest logged, for tests to count.
    final class Messages: @unchecked Sendable {
        private let lock = NSLock()
        private var texts: [String] = []
        func append(_ text: String) { lock.withLock { texts.append(text) } }
        func count(_ fragment: String) -> Int { lock.withLock { texts.filter { $0.contains(fragment) }.count } }
        var all: [String] { lock.withLock { texts } }
    }

    @Test("the database locked under sustained input: the spool stops at its limit, input is no longer read (auditd's queue takes over), said once; nothing is dropped")
    func spoolBounded() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let spool = URL(fileURLWithPath: db.path + ".spool")
            _ = try SignalStore.openForWriting(path: db.path)
            let holder = try WriteLockHolder(path: db.path)
            defer { holder.release() }
            var options = Self.options()
            let limit: Int64 = 64 << 10
            options.spoolLimit = limit
            let messages = Messages()
            options.log = { _, text in messages.append(text) }
            let plugin = try Running(db: db, options: options)
            let total = 2000   // about 1.3 MB of records, twenty times the limit
            let sent = DispatchSemaphore(value: 0)
            Thread {
                for i in stride(from: 0, to: total, by: 10) { plugin.send(Stream.kills(i..<i + 10)) }
                sent.signal()
            }.start()
            try #require(Self.eventually { plugin.control.status.readingPaused }, "\(plugin.control.status)")
            // Held there, however long the database stays locked.
            for _ in 0..<5 {
                usleep(200_000)
                let size = try TestLogs.size(spool)
                // Past it by at most the read that crossed it (64 KiB) and the rest of a line
                // that read left open.
                #expect(size >= limit && size <= limit + 72 << 10, "the spool must stop near its limit: \(size) bytes")
            }
            #expect(plugin.control.status.readingPaused)
            #expect(sent.wait(timeout: .now()) == .timedOut, "the sender must be held back by the full pipe")
            #expect(messages.count("reached its limit") == 1, "said loudly once: \(messages.all)")
            #expect(messages.all.contains { $0.contains("overflow_action") })
            #expect(plugin.control.status.droppedLines == 0)

            holder.release()
            #expect(sent.wait(timeout: .now() + 60) == .success, "input must flow again once the spool is stored")
            try #require(Self.eventually(60) { Self.count(db) == total }, "\(plugin.control.status)")
            let status = try plugin.finish()
            #expect(status.droppedLines == 0)
            #expect(status.newEvents == total)
            #expect(Self.count(db) == total, "every event must be stored")
            #expect(status.readPauses >= 1 && messages.count("reached its limit") == status.readPauses)
            #expect(!status.readingPaused)
            #expect(try TestLogs.size(spool) == 0)
        }
    }

    @Test("a record longer than any read (a 100 KB PROCTITLE) fed in small pieces, live and from the spool, is stored whole; its neighbours too")
    func longRecordInPieces() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try SignalStore.openForWriting(path: db.path)
            let plugin = try Running(db: db, options: Self.options())
            let long = String(repeating: "0123456789abcdef", count: 3_200)   // 51,200 bytes, twice that in hex
            func event(_ i: Int, _ arg: String) -> String {
                let s = Stream.stamp(i)
                return AuditLine.killSyscall(s, target: Int64(10_000 + i), signal: 9)
                    + AuditLine.objPID(s, pid: 10_000 + i)
                    + AuditLine.proctitle(s, argv: ["sh", "-c", arg]) + Stream.eoe(s)
            }
            func feed(_ text: String) {
                let bytes = Array(text.utf8)
                var at = 0
                while at < bytes.count {
                    let n = min(1_000, bytes.count - at)
                    plugin.input.write(Data(bytes[at..<at + n]))
                    at += n
                    usleep(200)
                }
            }
            let first = Stream.kill(0) + event(1, long) + Stream.kill(2)
            #expect(first.utf8.count > 100_000)
            feed(first)
            try #require(Self.eventually { Self.count(db) == 3 }, "\(plugin.control.status)")
            // The same, read back from the spool while the database is locked.
            let holder = try WriteLockHolder(path: db.path)
            feed(Stream.kill(3))
            try #require(Self.eventually(30) { !plugin.control.status.databaseAvailable }, "\(plugin.control.status)")
            feed(event(4, long + "!") + Stream.kill(5))
            try #require(Self.eventually { plugin.control.status.spoolBytes > 100_000 }, "\(plugin.control.status)")
            holder.release()
            // Replayed once the database is writable (end of input would leave it for the next start).
            try #require(Self.eventually(30) { Self.count(db) == 6 }, "\(plugin.control.status)")
            let status = try plugin.finish()
            #expect(status.linesRead == 24)
            #expect(status.droppedLines == 0)
            let rows = try TestLogs.signals(db)
            #expect(rows.count == 6)
            let byTarget = Dictionary(uniqueKeysWithValues: rows.map { ($0["target_pid"] as Int64, $0) })
            #expect(byTarget[10_001]?["sender_cmdline"] as String? == "sh -c " + long)
            #expect(byTarget[10_004]?["sender_cmdline"] as String? == "sh -c " + long + "!")
            for i in [0, 2, 3, 5] {
                #expect(byTarget[Int64(10_000 + i)]?["sender_cmdline"] as String? == "kill -9 \(10_000 + i)")
            }
            let bad = try TestLogs.query(db, "SELECT SUM(bad_lines) AS n FROM file_reads").first?["n"] as Int64?
            #expect(bad == 0)
        }
    }

    @Test("a line longer than any record (300 KB) is skipped and said so, live and from the spool; nothing of it is fed as a line, its neighbours are stored")
    func overlongLineSkipped() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try SignalStore.openForWriting(path: db.path)
            let messages = Messages()
            var options = Self.options()
            options.log = { _, text in messages.append(text) }
            let plugin = try Running(db: db, options: options)
            // Its middle looks like a record: fed from there, it would be a forged kill.
            let junk = String(repeating: "x", count: 150_000) + " " + AuditLine.killSyscall(Stream.stamp(99), target: 66_666, signal: 9).dropLast()
                + String(repeating: "y", count: 150_000) + "\n"
            plugin.send(Stream.kill(0) + junk + Stream.kill(1))
            try #require(Self.eventually { Self.count(db) == 2 }, "\(plugin.control.status)")
            #expect(plugin.control.status.overlongLines == 1)
            #expect(messages.count("longer than 128 KiB") == 1)
            let holder = try WriteLockHolder(path: db.path)
            plugin.send(Stream.kill(2))
            try #require(Self.eventually(30) { !plugin.control.status.databaseAvailable }, "\(plugin.control.status)")
            plugin.send(junk + Stream.kill(3))
            try #require(Self.eventually { plugin.control.status.spoolBytes > 300_000 })
            holder.release()
            try #require(Self.eventually(30) { Self.count(db) == 4 }, "\(plugin.control.status)")
            _ = try plugin.finish()
            #expect(Self.count(db) == 4)
            #expect(try TestLogs.signals(db, where: "target_pid = 66666").isEmpty)
            let bad = try TestLogs.query(db, "SELECT SUM(bad_lines) AS n FROM file_reads").first?["n"] as Int64?
            #expect(bad == 1, "the copy replayed from the spool is counted as a skipped line")
        }
    }

    @Test("a commit that fails and later succeeds: the copy spooled meanwhile is not counted twice")
    func failedCommitRecovers() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let plugin = try Running(db: db, options: Self.options())
            plugin.send(Stream.kill(0))
            try #require(Self.eventually { Self.count(db) == 1 })
            let holder = try WriteLockHolder(path: db.path)
            plugin.send(Stream.kills(1..<21))
            try #require(Self.eventually { plugin.control.status.spoolBytes > 0 }, "\(plugin.control.status)")
            plugin.send(Stream.kills(21..<31))
            holder.release()
            #expect(Self.eventually { Self.count(db) == 31 }, "\(Self.count(db))")
            #expect(Self.eventually { plugin.control.status.spoolBytes == 0 }, "the replayed spool must be emptied")
            let status = try plugin.finish()
            #expect(status.newEvents == 31)
            let reads = try TestLogs.query(db, "SELECT lines, signal_events FROM file_reads")
            #expect(reads.first?["signal_events"] as Int64? == 31)
            #expect(reads.first?["lines"] as Int64? == Int64(31 * 4))
        }
    }

    @Test("a spool left by an earlier run is replayed at start")
    func leftoverSpoolReplayed() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            try TestLogs.write(Stream.kills(0..<5), to: URL(fileURLWithPath: db.path + ".spool"))
            let plugin = try Running(db: db, options: Self.options())
            plugin.send(Stream.kill(5))
            let status = try plugin.finish()
            #expect(status.replayedLines >= 20)
            #expect(status.newEvents == 6)
            #expect(Self.count(db) == 6)
            #expect(try TestLogs.size(URL(fileURLWithPath: db.path + ".spool")) == 0)
        }
    }

    @Test("a line a killed plugin spliced only the start of is completed at restart from the pipe that outlived it, not cut off")
    func splicedLineStartKept() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            // As a kill -9 leaves it when a read ended mid-line: the start in the spool, the rest in the pipe.
            let third = Array(Stream.kill(2).utf8)
            let cut = 100
            try TestLogs.write(Stream.kills(0..<2) + String(decoding: third[..<cut], as: UTF8.self),
                               to: URL(fileURLWithPath: db.path + ".spool"))
            let messages = Messages()
            var options = Self.options()
            options.log = { _, text in messages.append(text) }
            let plugin = try Running(db: db, options: options)
            plugin.input.write(Data(third[cut...]))
            plugin.send(Stream.kill(3))
            try #require(Self.eventually { Self.count(db) == 4 }, "\(plugin.control.status) \(messages.all)")
            let status = try plugin.finish()
            #expect(status.newEvents == 4)
            #expect(try TestLogs.signals(db, where: "target_pid = 10002").count == 1, "the record cut by the kill is stored whole")
            let bad = try TestLogs.query(db, "SELECT SUM(bad_lines) AS n FROM file_reads").first?["n"] as Int64?
            #expect(bad == 0)
            #expect(try TestLogs.size(URL(fileURLWithPath: db.path + ".spool")) == 0)
        }
    }

    @Test("`killdb ingest` alongside a busy plugin: neither fails, nothing is lost or doubled")
    func ingestAlongside() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            // Three logs, so each ingest has a file of its own to store.
            let logs = try (0..<3).map { n -> URL in
                let log = dir.appendingPathComponent("audit-\(n).log")
                try TestLogs.write(Stream.kills(n * 1000..<n * 1000 + 1000, base: 1_600_000_000), to: log)
                try TestLogs.age(log)
                return log
            }
            // Created first: two processes creating one database at once is another matter.
            _ = try SignalStore.openForWriting(path: db.path)
            let plugin = try Running(db: db, options: LiveIngestOptions())
            let feeding = DispatchSemaphore(value: 0)
            Thread {
                // ~1000 events a second for as long as the ingests run.
                for chunk in 0..<60 {
                    plugin.send(Stream.kills(chunk * 50..<chunk * 50 + 50))
                    usleep(50_000)
                }
                feeding.signal()
            }.start()
            for log in logs {
                let summary = try TestLogs.ingest([log], db: db)
                #expect(summary.totals.newEvents == 1000)
            }
            feeding.wait()
            let status = try plugin.finish()
            #expect(status.droppedLines == 0)
            #expect(status.newEvents == 3000)
            #expect(Self.count(db) == 6000)
            let runs = try TestLogs.query(db, "SELECT status FROM ingest_runs WHERE id = ?", arguments: [status.runIDs.first ?? -1])
            #expect(runs.first?["status"] as String? == "complete")
        }
    }

    @Test("the binary: stdin from a pipe, SIGHUP opens a new run, SIGTERM commits and exits 0")
    func binary() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: cli.path)
            // As auditd passes it: one word, no environment.
            p.arguments = ["plugin", "--db=\(db.path)"]
            p.environment = [:]
            let stdin = Pipe()
            p.standardInput = stdin
            let errPath = dir.appendingPathComponent("stderr").path
            FileManager.default.createFile(atPath: errPath, contents: nil)
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
            let stderr = { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

            stdin.fileHandleForWriting.write(Data(Stream.kills(0..<10).utf8))
            #expect(Self.eventually { Self.count(db) == 10 }, "stderr: \(stderr())")
            #expect(try TestLogs.query(db, "SELECT status FROM ingest_runs").map { $0["status"] as String } == ["running"])

            kill(p.processIdentifier, SIGHUP)
            #expect(Self.eventually {
                ((try? TestLogs.query(db, "SELECT status FROM ingest_runs")) ?? []).map { $0["status"] as String } == ["complete"]
            }, "SIGHUP must close the run")
            stdin.fileHandleForWriting.write(Data(Stream.kills(10..<20).utf8))
            #expect(Self.eventually { Self.count(db) == 20 }, "stderr: \(stderr())")
            #expect(try TestLogs.query(db, "SELECT status FROM ingest_runs ORDER BY id").map { $0["status"] as String }
                    == ["complete", "running"], "SIGHUP closes a run; the next commit opens another")

            // The pipe stays open: only SIGTERM ends it.
            let tail = Stream.stamp(20)
            stdin.fileHandleForWriting.write(Data(AuditLine.killSyscall(tail, target: 10_020, signal: 9).utf8))
            usleep(300_000)
            kill(p.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(15)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            try #require(!p.isRunning, "killdb plugin did not exit after SIGTERM; stderr: \(stderr())")
            #expect(p.terminationReason == .exit && p.terminationStatus == 0, "stderr: \(stderr())")
            #expect(Self.count(db) == 21, "the event without EOE is stored at exit")
            let runs = try TestLogs.query(db, "SELECT status FROM ingest_runs ORDER BY id").map { $0["status"] as String }
            #expect(runs == ["complete", "complete"], "SIGHUP closes a run and opens another")
        }
    }
}
