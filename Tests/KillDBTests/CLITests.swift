import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `killdb` binary as a user runs it: exit codes and messages.
enum CLI {
    /// The binary beside the test bundle (`.build/debug/killdb`), found as the crash and
    /// stress suites find it.
    static let binary: String = KillDBCLI.located ?? "killdb"

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ args: [String], environment: [String: String] = [:], asUser user: String? = nil) throws -> Result {
        let p = Process()
        if let user {
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            p.arguments = ["-u", user, "--", binary] + args
        } else {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "KILLDB_DB")
        env["TZ"] = "UTC"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("the killdb command: exit codes and messages")
struct CLITests {
    let fixture = TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path

    @Test("--help teaches: commands, exit codes, where the database is")
    func help() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0)
        for word in ["ingest", "who", "sql", "Exit codes", "KILLDB_DB", "auditctl"] {
            #expect(r.stdout.contains(word), "help lacks \(word)")
        }
        let ingest = try CLI.run(["ingest", "--help"])
        #expect(ingest.stdout.contains("audit.log.N"))
    }

    @Test("ingest, then who finds the sender (exit 0); an unknown pid is exit 1")
    func ingestAndWho() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let ingest = try CLI.run(["ingest", "--db", db, fixture])
            #expect(ingest.status == 0, "\(ingest.stderr)")
            #expect(ingest.stdout.contains("6 new"))
            let who = try CLI.run(["who", "--db", db, "4242"])
            #expect(who.status == 0)
            #expect(who.stdout.hasPrefix("SIGKILL to pid 4242 (nginx)"))
            let none = try CLI.run(["who", "--db", db, "1234"])
            #expect(none.status == 1)
            #expect(none.stdout.contains("No SIGKILL sent to pid 1234 is on record."))
            // The database path may come from the environment.
            let env = try CLI.run(["who", "--format", "json", "4242"], environment: ["KILLDB_DB": db])
            #expect(env.status == 0)
            #expect(env.stdout.contains("\"sender_comm\":\"systemd\""))
        }
    }

    @Test("a missing log is exit 3 and names the file")
    func missingLog() throws {
        try TestLogs.withScratch { dir in
            let r = try CLI.run(["ingest", "--db", dir.appendingPathComponent("k.sqlite").path, "/nonexistent/audit.log"])
            #expect(r.status == 3)
            #expect(r.stderr.contains("/nonexistent/audit.log: no such file or directory"))
        }
    }

    @Test("an unreadable log is exit 3 and says what permission it needs",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/runuser")))
    func unreadableLog() throws {
        try TestLogs.withScratch { dir in
            // The user's own directory (one all may write is refused as a database's).
            let nobody = try #require(getpwnam("nobody")).pointee
            chown(dir.path, nobody.pw_uid, nobody.pw_gid)
            let log = dir.appendingPathComponent("audit.log")
            try Data("type=DAEMON_START msg=audit(1.000:1): op=start\n".utf8).write(to: log)
            chmod(log.path, 0o600)
            let r = try CLI.run(["ingest", "--db", dir.appendingPathComponent("k.sqlite").path, log.path], asUser: "nobody")
            #expect(r.status == 3)
            #expect(r.stderr.contains("permission denied"))
            #expect(r.stderr.contains("log_group"))
        }
    }

    /// kernel.dmesg_restrict=1 and no CAP_SYSLOG: what systemd's ProtectKernelLogs= or a
    /// container does too. Even --quiet (the timer's way) says so, on stderr, for the journal.
    @Test("an ingest that cannot read the kernel log says so, even with --quiet",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/capsh")
                   && (try? String(contentsOfFile: "/proc/sys/kernel/dmesg_restrict", encoding: .utf8))?.hasPrefix("1") == true))
    func unreadableKernelLog() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            for quiet in [true, false] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/sbin/capsh")
                p.arguments = ["--drop=cap_syslog", "--", "-c", "exec \"$0\" ingest \(quiet ? "--quiet " : "")--db \"$1\"", CLI.binary, db]
                let out = Pipe(), err = Pipe()
                p.standardOutput = out
                p.standardError = err
                try p.run()
                let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                let said = o + e
                #expect(said.contains("warning: the kernel log cannot be read") && said.contains("/dev/kmsg"), "\(said)")
                #expect(said.contains("CAP_SYSLOG"), "\(said)")
                if quiet { #expect(e.contains("kernel log cannot be read")) }
            }
            // Told not to read it: no warning.
            let none = try CLI.run(["ingest", "--no-kernel-log", "--quiet", "--db", db])
            #expect(!none.stderr.contains("kernel log cannot be read"))
            // doctor says so too.
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/capsh")
            p.arguments = ["--drop=cap_syslog", "--", "-c", "exec \"$0\" doctor --db \"$1\"", CLI.binary, db]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let doctor = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(doctor.contains("warn  kernel log: the kernel log cannot be read"), "\(doctor)")
            #expect(p.terminationStatus == 1)
            let readable = try CLI.run(["doctor", "--db", db])
            #expect(readable.stdout.contains("ok    kernel log: /dev/kmsg is readable"), "\(readable.stdout)")
        }
    }

    /// In WAL mode a reader must write the -shm file beside the database: a user who may
    /// read the database but not write its directory got "unable to open database file".
    @Test("a reader who cannot write the database's directory reads it immutable, and says so",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/runuser")))
    func immutableReader() throws {
        try TestLogs.withScratch { dir in
            chmod(dir.path, 0o755)
            let db = dir.appendingPathComponent("k.sqlite").path
            #expect(try CLI.run(["ingest", "--db", db, fixture]).status == 0)
            chmod(db, 0o644)
            let n = try CLI.run(["sql", "--db", db, "--format", "csv", "SELECT COUNT(*) AS n FROM signals"], asUser: "nobody")
            #expect(n.status == 0, "\(n.stderr)")
            #expect(n.stdout == "n\r\n6\r\n")
            #expect(n.stderr.contains("opened immutable") && n.stderr.contains("may not write its directory"), "\(n.stderr)")
            let w = try CLI.run(["who", "--db", db, "--format", "json", "1"], asUser: "nobody")
            #expect(w.status == 0 || w.status == 1, "\(w.stderr)")
            #expect(!w.stderr.contains("unable to open"), "\(w.stderr)")
            // The owner reads it as always, with no note.
            let owner = try CLI.run(["sql", "--db", db, "SELECT 1"])
            #expect(!owner.stderr.contains("immutable"))
        }
    }

    @Test("a merge that fails leaves no empty target behind")
    func failedMergeLeavesNoTarget() throws {
        try TestLogs.withScratch { dir in
            let target = dir.appendingPathComponent("merged.sqlite").path
            let r = try CLI.run(["merge", "--db", target, dir.appendingPathComponent("missing.sqlite").path])
            #expect(r.status != 0)
            #expect(!FileManager.default.fileExists(atPath: target), "an empty target was left")
            #expect(!FileManager.default.fileExists(atPath: target + ".lock"))
            // An existing target is kept whatever happens.
            #expect(try CLI.run(["ingest", "--db", target, fixture]).status == 0)
            #expect(try CLI.run(["merge", "--db", target, dir.appendingPathComponent("missing.sqlite").path]).status != 0)
            #expect(FileManager.default.fileExists(atPath: target))
        }
    }

    @Test("queries on a missing database are exit 2 and say to ingest first")
    func missingDatabase() throws {
        let r = try CLI.run(["who", "--db", "/nonexistent/k.sqlite", "1"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("killdb ingest"))
    }

    @Test("sql is read-only: a write is refused by SQLite, exit 2")
    func sqlReadOnly() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            _ = try CLI.run(["ingest", "--db", db, fixture])
            let w = try CLI.run(["sql", "--db", db, "DELETE FROM events"])
            #expect(w.status == 2)
            #expect(w.stderr.contains("read-only"))
            let n = try CLI.run(["sql", "--db", db, "--format", "csv", "SELECT COUNT(*) AS n FROM signals"])
            #expect(n.status == 0)
            #expect(n.stdout == "n\r\n6\r\n")
            let empty = try CLI.run(["sql", "--db", db, "SELECT * FROM signals WHERE 0"])
            #expect(empty.status == 1)
            let bad = try CLI.run(["sql", "--db", db, "SELEC 1"])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("SQL error"))
        }
    }

    @Test("usage errors are exit 2 and show what is accepted")
    func usage() throws {
        let unknown = try CLI.run(["who", "--no-such-option"])
        #expect(unknown.status == 2)
        let badTime = try CLI.run(["who", "--db", "/nonexistent", "--before", "yesterdy", "1"])
        #expect(badTime.status == 2)
        #expect(badTime.stderr.contains("Accepted:"))
        // The time is shown escaped once: \e and a backslash as the user would type them back.
        let hostile = try CLI.run(["report", "--db", "/nonexistent", "--before", "a\\b\u{1B}[2J"])
        #expect(hostile.status == 2)
        #expect(hostile.stderr.contains(#""a\\b\u{1b}[2J""#), "\(hostile.stderr)")
        #expect(!hostile.stderr.contains(#"\\\\"#) && !hostile.stderr.contains("\u{1B}"), "\(hostile.stderr)")
        let badSignal = try CLI.run(["who", "--db", "/nonexistent", "--signal", "KILLL", "1"])
        #expect(badSignal.status == 2)
        #expect(badSignal.stderr.contains("unknown signal"))
    }

    @Test("a second ingest while one holds the database exits 75 (retry later)")
    func busy() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let fd = open(db + ".lock", O_RDWR | O_CREAT, 0o600)
            defer { close(fd) }
            #expect(flock(fd, LOCK_EX) == 0)
            let r = try CLI.run(["ingest", "--db", db, "--wait", "0", fixture])
            #expect(r.status == 75)
            #expect(r.stderr.contains("another killdb ingest"))
        }
    }

    @Test("ingest --format json is a machine-readable summary")
    func ingestJSON() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let r = try CLI.run(["ingest", "--db", db, "--format", "json", fixture])
            let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            #expect(obj?["new_events"] as? Int == 6)
            #expect(obj?["skipped_lines"] as? Int == 0)
        }
    }

    /// A database of the pid-reuse fixture: kills of pid 4242 on 2026-11-25 between 10:00 and 11:01 UTC.
    func withFixtureDatabase(_ body: (String) throws -> Void) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let ingest = try CLI.run(["ingest", "--db", db, fixture])
            try #require(ingest.status == 0, "\(ingest.stderr)")
            try body(db)
        }
    }

    @Test("the documented relative times work as written: --before -10m, --after -2h, --since, --until")
    func relativeTimesAsWritten() throws {
        try withFixtureDatabase { db in
            for args in [["--before", "-10m"], ["--before=-10m"], ["--until", "-2h"], ["--after", "-100000d"],
                         ["--since", "11/24/26"], ["--before", "tomorrow"]] {
                let r = try CLI.run(["who", "--db", db] + args + ["4242"])
                #expect(r.status == 0, "\(args): \(r.stderr)")
                #expect(r.stdout.hasPrefix("SIGKILL to pid 4242"), "\(args)")
            }
            let none = try CLI.run(["who", "--db", db, "--after", "-10m", "4242"])
            #expect(none.status == 1, "\(none.stderr)")
            // report --help's own example.
            let report = try CLI.run(["report", "--db", db, "--before", "-10m", "--pid", "4242", "--format", "markdown"])
            #expect(report.status == 1, "nothing in the last hour, and not a usage error: \(report.stderr)")
            #expect(report.stderr.isEmpty)
        }
    }

    @Test("a time killdb printed reads back as that instant; so do ausearch's date and time, as two words")
    func printedTimesRoundTrip() throws {
        try withFixtureDatabase { db in
            let first = try CLI.run(["who", "--db", db, "4242"])
            let printed = try #require(first.stdout.split(separator: "\n").first.flatMap { line -> String? in
                // In UTC the time is printed once: " at 2026-11-25 11:00:00.300 UTC" ends the line.
                guard let at = line.range(of: " at ") else { return nil }
                return String(line[at.upperBound...])
            })
            #expect(printed == "2026-11-25 11:00:00.300 UTC")
            let since = try CLI.run(["who", "--db", db, "--after", printed, "4242"])
            #expect(since.status == 0 && since.stdout.hasPrefix(String(first.stdout.prefix(60))), "\(since.stderr)")
            let until = try CLI.run(["who", "--db", db, "--before", "2026-11-25T11:00:00.299Z", "4242"])
            #expect(until.status == 0)
            #expect(!until.stdout.hasPrefix(String(first.stdout.prefix(60))), "1 ms before the kill excludes it")

            let ausearch = try CLI.run(["who", "--db", db, "--after", "11/25/26", "11:00:00", "4242"])
            #expect(ausearch.status == 0, "\(ausearch.stderr)")
            #expect(ausearch.stdout.hasPrefix("SIGKILL to pid 4242 (nginx) at 2026-11-25 11:00:00.300 UTC"))
            let journal = try CLI.run(["who", "--db", db, "--before", "yesterday 19:00", "4242"])
            #expect(journal.status == 0 || journal.status == 1, "\(journal.stderr)")
        }
    }

    @Test("--utc reads and shows times in UTC whatever TZ says")
    func utcFlag() throws {
        try withFixtureDatabase { db in
            let r = try CLI.run(["who", "--db", db, "--utc", "--before", "2026-11-25 11:00:00.300", "4242"],
                                environment: ["TZ": "Asia/Tokyo"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("SIGKILL to pid 4242 (nginx) at 2026-11-25 11:00:00.300 UTC"))
        }
    }

    @Test("another zone prints its offset and abbreviation (TZ=Asia/Tokyo: +09:00 JST, not GMT+9), and reads back")
    func zonesPrintAsISO() throws {
        try withFixtureDatabase { db in
            let tokyo = ["TZ": "Asia/Tokyo"]
            let r = try CLI.run(["who", "--db", db, "4242"], environment: tokyo)
            #expect(r.stdout.hasPrefix("SIGKILL to pid 4242 (nginx) at 2026-11-25 20:00:00.300 +09:00 JST (2026-11-25T11:00:00.300Z)"), "\(r.stdout)")
            #expect(!r.stdout.contains("GMT+9"))
            let back = try CLI.run(["who", "--db", db, "--after", "2026-11-25 20:00:00.300 +09:00 JST", "4242"], environment: tokyo)
            #expect(back.status == 0 && back.stdout.hasPrefix("SIGKILL to pid 4242 (nginx) at 2026-11-25 20:00:00.300"), "\(back.stderr)")
            let abbreviationOnly = try CLI.run(["who", "--db", db, "--after", "2026-11-25 20:00:00.300 JST", "4242"], environment: tokyo)
            #expect(abbreviationOnly.status == 0, "\(abbreviationOnly.stderr)")
            // In UTC the zone is just UTC.
            let utc = try CLI.run(["who", "--db", db, "4242"])
            #expect(utc.stdout.hasPrefix("SIGKILL to pid 4242 (nginx) at 2026-11-25 11:00:00.300 UTC"))
        }
    }

    @Test("questions that cannot be answered are usage errors (exit 2), never \"nothing on record\"")
    func impossibleQuestions() throws {
        try withFixtureDatabase { db in
            let inverted = try CLI.run(["who", "--db", db, "--after", "today", "--before", "yesterday", "4242"])
            #expect(inverted.status == 2)
            #expect(inverted.stderr.contains("is later than --before"))
            #expect(inverted.stdout.isEmpty)

            let signal = try CLI.run(["who", "--db", db, "--signal", "65", "4242"])
            #expect(signal.status == 2)
            #expect(signal.stderr.contains("numbered 1 to 64"))

            let node = try CLI.run(["who", "--db", db, "--node", "nosuch", "4242"])
            #expect(node.status == 2)
            #expect(node.stderr.contains("no node named \"nosuch\""))
            let reportNode = try CLI.run(["report", "--db", db, "--before", "now", "--node", "nosuch"])
            #expect(reportNode.status == 2 && reportNode.stderr.contains("no node named"))

            let user = try CLI.run(["who", "--db", db, "--uid", "no-such-user-here", "4242"])
            #expect(user.status == 2)
            #expect(user.stderr.contains("no user named \"no-such-user-here\""))
            // A name this host knows is its uid, as ausearch -ui takes it.
            let root = try CLI.run(["who", "--db", db, "--uid", "root", "4242"])
            #expect(root.status == 0, "\(root.stderr)")
            let nobody = try CLI.run(["who", "--db", db, "--uid", "nobody", "4242"])
            #expect(nobody.status == 1, "\(nobody.stderr)")
        }
    }

    @Test("a usage error found while running shows the subcommand's usage, not the top level's")
    func usageOfTheSubcommand() throws {
        let r = try CLI.run(["report", "--db", "/nonexistent", "--window=0", "--before", "now"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--window must be longer than zero"))
        #expect(r.stderr.contains("Usage: killdb report"))
        #expect(!r.stderr.contains("SUBCOMMANDS"))
    }

    @Test("a database this user may not read says who may and what to do (exit 2)",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/runuser")))
    func databaseNotReadable() throws {
        try withFixtureDatabase { db in
            let dir = (db as NSString).deletingLastPathComponent
            chmod(dir, 0o755)
            chmod(db, 0o600)
            let file = try CLI.run(["who", "--db", db, "4242"], asUser: "nobody")
            #expect(file.status == 2)
            #expect(file.stderr.contains("permission denied: \(db) is readable by root only (mode 0600); this is user nobody"), "\(file.stderr)")
            #expect(file.stderr.contains("sudo"))
            #expect(!file.stderr.contains("unable to open database file"))
            // A directory this user may not enter: not "no database, run killdb ingest first".
            chmod(dir, 0o700)
            let hidden = try CLI.run(["report", "--db", db, "--before", "now"], asUser: "nobody")
            #expect(hidden.status == 2)
            #expect(hidden.stderr.contains("permission denied: the directory \(dir) may be entered by root only"), "\(hidden.stderr)")
            #expect(!hidden.stderr.contains("killdb ingest` first"))
        }
    }

    @Test("ingest exits 3 alike whether /var/log/audit is named or the default, when it holds no audit log",
          .enabled(if: !FileManager.default.fileExists(atPath: "/var/log/audit/audit.log")))
    func emptyAuditDirectoryExitsAlike() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let byDefault = try CLI.run(["ingest", "--db", db, "--no-kernel-log"])
            let named = try CLI.run(["ingest", "--db", db, "--no-kernel-log", "/var/log/audit"])
            #expect(byDefault.status == 3, "\(byDefault.stderr)")
            #expect(named.status == byDefault.status)
            for r in [byDefault, named] { #expect(r.stderr.contains("holds no audit.log yet")) }
        }
    }

    @Test("help examples fit 80 columns: no example wraps into a line that breaks when pasted",
          arguments: [["ingest"], ["who"], ["report"], ["sql"], ["rules"], ["rules", "install"], ["doctor"], ["plugin"], ["merge"]])
    func examplesDoNotWrap(command: [String]) throws {
        let help = try CLI.run(command + ["--help"])
        #expect(help.status == 0)
        let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "Examples:" }) else { return }
        for line in lines[(start + 1)...].prefix(while: { !$0.isEmpty }) {
            #expect(line.hasPrefix("  "), "\(command): a wrapped example line: \(line)")
        }
    }

    @Test("a self-kill is said in words; an ENRICHED unknown(4242) is said once, in words; evidence gives the ausearch command")
    func selfKillAndUnknownUser() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let log = TestLogs.testsDirectory.appendingPathComponent("Fixtures/logs/self-kill-unknown-auid.log").path
            try #require(try CLI.run(["ingest", "--db", db, log]).status == 0)
            let r = try CLI.run(["who", "--db", db, "2666"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("  sent by   the target itself: pid 2666 (bash) /usr/bin/bash\n"), "\(r.stdout)")
            #expect(r.stdout.contains("login uid 4242 (no such user on the logging host)"))
            #expect(!r.stdout.contains("unknown(4242)"))
            #expect(r.stdout.contains("; TZ=UTC ausearch -a 1950 -ts 11/14/23 22:40:00 -te 11/14/23 22:40:01\n"))
        }
    }
}
