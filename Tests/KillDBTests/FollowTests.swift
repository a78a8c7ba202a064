import Foundation
import Queries
import Store
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `killdb who --follow` against a real ingest appending to the database while it runs.
@Suite("who --follow: new kills as they are stored")
struct FollowTests {
    /// A running `killdb who --follow ...` whose stdout and stderr are collected as they come.
    final class Follower: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var out = Data(), err = Data()

        init(_ args: [String]) throws {
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["who", "--follow"] + args
            var env = ProcessInfo.processInfo.environment
            env["TZ"] = "UTC"
            process.environment = env
            let o = Pipe(), e = Pipe()
            process.standardOutput = o
            process.standardError = e
            o.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, err: false) }
            e.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, err: true) }
            try process.run()
        }

        private func append(_ d: Data, err isErr: Bool) {
            lock.lock(); defer { lock.unlock() }
            if isErr { err.append(d) } else { out.append(d) }
        }

        var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
        var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }

        /// Waits up to `seconds` for `condition`.
        func wait(_ seconds: Double, until condition: () -> Bool) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end { if condition() { return true }; usleep(50_000) }
            return condition()
        }

        func stop(_ signal: Int32) -> Int32 {
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test("prints each matching kill an ingest stores while it runs, not the ones before, and ends cleanly on SIGTERM and SIGINT")
    func followsAnIngest() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let before = try CLI.run(["ingest", "--db", db, TestLogs.fixture("three-kills.log")])
            try #require(before.status == 0, "\(before.stderr)")

            let all = try Follower(["--db", db, "--signal", "all"])
            let killsOnly = try Follower(["--db", db, "--format", "json"])
            for f in [all, killsOnly] {
                try #require(f.wait(10) { f.stderr.contains("following") }, "\(f.stderr)")
            }
            #expect(all.stdout.isEmpty, "events stored before it started are not printed")

            let later = try CLI.run(["ingest", "--db", db, TestLogs.fixture("two-kills-later.log")])
            try #require(later.status == 0, "\(later.stderr)")
            #expect(all.wait(10) { all.stdout.split(separator: "\n").count == 2 }, "\(all.stdout)")
            let lines = all.stdout.split(separator: "\n")
            #expect(lines.first?.hasPrefix("2023-11-14 22:48:20.000 UTC  SIGKILL to pid 9101 (sleep) from pid 2666 (bash) /usr/bin/bash") == true, "\(lines)")
            #expect(lines.last?.contains("SIGINT to pid 9102 (sleep)") == true)
            #expect(lines.last?.hasSuffix("[audit event 1700002103.000:3102]") == true)

            // Only the SIGKILL matches the default --signal KILL: one JSON object a line.
            #expect(killsOnly.wait(10) { !killsOnly.stdout.isEmpty })
            usleep(700_000)
            let objects = killsOnly.stdout.split(separator: "\n")
            #expect(objects.count == 1, "\(objects)")
            let object = try JSONSerialization.jsonObject(with: Data((objects.first ?? "").utf8)) as? [String: Any]
            #expect(object?["target_pid"] as? Int == 9101)
            #expect(object?["event_id"] as? String == "1700002100.000:3101")

            #expect(all.stop(SIGTERM) == 0)
            #expect(killsOnly.stop(SIGINT) == 0)
        }
    }

    @Test("kills by the kernel (the OOM killer) an ingest of the kernel log stores are followed too")
    func followsKernelKills() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            try #require(try CLI.run(["ingest", "--db", db, TestLogs.fixture("three-kills.log")]).status == 0)
            let f = try Follower(["--db", db, "cc1plus"])
            try #require(f.wait(10) { f.stderr.contains("following") }, "\(f.stderr)")
            let kernelLog = TestLogs.testsDirectory.appendingPathComponent("Fixtures/kernel/syslog-rfc3339-6.8").path
            let r = try CLI.run(["ingest", "--db", db, "--kernel-log", kernelLog, TestLogs.fixture("two-kills-later.log")])
            try #require(r.status == 0, "\(r.stderr)")
            #expect(f.wait(10) { f.stdout.contains("cc1plus") }, "\(f.stdout)")
            let line = f.stdout.split(separator: "\n").first.map(String.init) ?? ""
            #expect(line.contains("SIGKILL to pid 51000 (cc1plus) by the memory cgroup OOM killer"), "\(line)")
            #expect(line.contains("[kernel log: syslog, UNVERIFIED: anyone can write such a line there]"), "a syslog file proves no writer: \(line)")
            #expect(!f.stdout.contains("sleep"), "signals to other targets are not shown")
            #expect(f.stop(SIGTERM) == 0)
        }
    }

    @Test("a reader that goes away (| head -1) ends it with exit 0")
    func closedPipe() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            try #require(try CLI.run(["ingest", "--db", db, TestLogs.fixture("three-kills.log")]).status == 0)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "'\(CLI.binary)' who --follow --signal all --db '\(db)' 2>/dev/null | head -1; echo \"${PIPESTATUS:-}\""]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            usleep(1_000_000)
            #expect(try CLI.run(["ingest", "--db", db, TestLogs.fixture("two-kills-later.log")]).status == 0)
            // head exits after one line; the next write finds the pipe closed.
            let end = Date().addingTimeInterval(15)
            while p.isRunning && Date() < end { usleep(100_000) }
            #expect(!p.isRunning, "killdb who --follow kept running after its reader left")
            if p.isRunning { p.terminate() }
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(text.contains("SIGKILL to pid 9101"))
        }
    }

    static func configure(_ name: String, _ q: inout SignalQuery) {
        switch name {
        case "target pid": q.targetPid = 5001
        case "target name glob": q.targetComm = "ja*"
        case "sender name": q.senderComm = "reaper"
        case "sender exe": q.senderExe = "/usr/bin/*"
        case "sender pid": q.senderPid = 6666
        case "sender pid and target": q.senderPid = 3100; q.targetPid = 5002
        case "uid": q.uid = 0
        case "auid": q.auid = 1000
        case "signal TERM": q.signals = .only([15])
        case "signal all": q.signals = .all
        case "failed too": q.signals = .all; q.includeFailed = true
        case "probes too": q.signals = .all; q.includeProbes = true
        case "ESRCH pid": q.targetPid = 99999; q.includeFailed = true
        case "node": q.node = "no-such-host"
        case "sender unit": q.senderPlace.unit = "cron.service"
        case "sender cgroup": q.senderPlace.cgroup = "/*"
        default: Issue.record("no such case \(name)")
        }
    }

    /// Every filter `who` takes, asked of the same database both ways: following from the
    /// start prints exactly the rows `who` answers with (oldest first rather than newest).
    @Test("follow honours every filter who takes: target, sender pid/name/exe/uid/auid/unit/cgroup, node, signal, failed, probes",
          arguments: ["target pid", "target name glob", "sender name", "sender exe", "sender pid", "sender pid and target", "uid", "auid", "signal TERM", "signal all", "failed too", "probes too", "ESRCH pid", "node", "sender unit", "sender cgroup"])
    func followMatchesWho(_ name: String) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/incident.log").path], db: db)
            let store = try SignalStore.openReadOnly(path: db.path)
            var q = SignalQuery()
            Self.configure(name, &q)
            let who = try Who.ask(q, in: store).rows
            let (followed, next) = try Follow.rows(after: 0, matching: q, in: store)
            #expect(next == (try Follow.lastRowID(in: store)))
            let key = { (r: SignalRow) in "\(r.eventID)/\(r.targetPid ?? -1)" }
            // who is newest first; follow in the order events were stored.
            #expect(followed.map(key).sorted() == who.map(key).sorted(), "\(name)")
            // Read in small batches, the same rows.
            var all: [SignalRow] = [], last: Int64 = 0
            while true {
                let (rows, n) = try Follow.rows(after: last, matching: q, in: store, batch: 2)
                all += rows
                if n == last { break }
                last = n
            }
            #expect(all.map(key) == followed.map(key), "\(name)")
        }
    }

    @Test("the running command applies the sender filters: --uid, --sender-comm, --sender-unit, --signal")
    func followFiltersOnTheCommandLine() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            try #require(try CLI.run(["ingest", "--db", db, TestLogs.fixture("three-kills.log")]).status == 0)
            let byUid = try Follower(["--db", db, "--signal", "all", "--uid", "1000"])
            let otherUid = try Follower(["--db", db, "--signal", "all", "--uid", "0"])
            let byName = try Follower(["--db", db, "--signal", "INT", "--sender-comm", "bash"])
            let byUnit = try Follower(["--db", db, "--signal", "all", "--sender-unit", "cron.service"])
            let all = [byUid, otherUid, byName, byUnit]
            for f in all { try #require(f.wait(10) { f.stderr.contains("following") }, "\(f.stderr)") }
            try #require(try CLI.run(["ingest", "--db", db, TestLogs.fixture("two-kills-later.log")]).status == 0)
            #expect(byUid.wait(10) { byUid.stdout.split(separator: "\n").count == 2 }, "\(byUid.stdout)")
            #expect(byName.wait(10) { !byName.stdout.isEmpty })
            usleep(1_200_000)  // two more polls: nothing else may arrive
            #expect(byName.stdout.split(separator: "\n").count == 1 && byName.stdout.contains("SIGINT to pid 9102"), "\(byName.stdout)")
            #expect(otherUid.stdout.isEmpty, "\(otherUid.stdout)")
            #expect(byUnit.stdout.isEmpty, "no process context was read: no unit matches")
            for f in all { #expect(f.stop(SIGTERM) == 0) }
        }
    }

    @Test("--follow with --before or --format csv is a usage error")
    func usage() throws {
        #expect(try CLI.run(["who", "--follow", "--before", "now", "--db", "/nonexistent"]).status == 2)
        #expect(try CLI.run(["who", "--follow", "--format", "csv", "--db", "/nonexistent"]).status == 2)
    }
}
