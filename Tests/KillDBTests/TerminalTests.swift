import Doctor
import Foundation
import Output
import Testing

/// Output on a real terminal: `script` gives the command a pseudo-terminal, as an operator's
/// shell does. Pipes (every other test) never get a pager or colour.
@Suite("a terminal: the pager, colour, TERM=dumb")
struct TerminalTests {
    static let script = "/usr/bin/script"
    let fixture = TestLogs.testsDirectory.appendingPathComponent("Fixtures/who/pid-reuse.log").path

    /// Runs `killdb ARGS; echo rc=$?` on a pseudo-terminal; the terminal's output (CR LF lines).
    func onTerminal(_ args: [String], environment: [String: String]) throws -> String {
        let quoted = ([CLI.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.script)
        p.arguments = ["-qec", quoted.joined(separator: " ") + "; echo rc=$?", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        for key in ["PAGER", "KILLDB_PAGER", "NO_COLOR", "LESS"] { env.removeValue(forKey: key) }
        env["TZ"] = "UTC"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }

    func withDatabase(_ body: (String) throws -> Void) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            try #require(try CLI.run(["ingest", "--db", db, fixture]).status == 0)
            try body(db)
        }
    }

    @Test("who and report go through $PAGER on a terminal, keep their exit code; --no-pager and pipes do not",
          .enabled(if: FileManager.default.isExecutableFile(atPath: script)))
    func pager() throws {
        try withDatabase { db in
            let pager = ["PAGER": "sed s/^/paged:/", "TERM": "xterm"]
            let who = try onTerminal(["who", "--db", db, "4242"], environment: pager)
            #expect(who.contains("paged:\u{1b}[1mSIGKILL to pid 4242"), "\(who)")
            #expect(who.hasSuffix("rc=0\n"))
            let none = try onTerminal(["who", "--db", db, "1234"], environment: pager)
            #expect(none.contains("paged:No SIGKILL sent to pid 1234") && none.hasSuffix("rc=1\n"), "\(none)")
            let report = try onTerminal(["report", "--db", db, "--before", "2026-11-25 12:00"], environment: pager)
            #expect(report.split(separator: "\n").dropLast().allSatisfy { $0.hasPrefix("paged:") }, "\(report)")
            let killdbPager = try onTerminal(["who", "--db", db, "4242"], environment: pager.merging(["KILLDB_PAGER": "sed s/^/mine:/"]) { $1 })
            #expect(killdbPager.contains("mine:"))

            let unpaged = try onTerminal(["who", "--db", db, "--no-pager", "4242"], environment: pager)
            #expect(!unpaged.contains("paged:") && unpaged.contains("SIGKILL to pid 4242"))
            let piped = try CLI.run(["who", "--db", db, "4242"], environment: pager)
            #expect(!piped.stdout.contains("paged:") && !piped.stdout.contains("\u{1b}"))
        }
    }

    @Test("colour on a terminal; none with NO_COLOR or TERM=dumb (and no pager on a dumb terminal)",
          .enabled(if: FileManager.default.isExecutableFile(atPath: script)))
    func colour() throws {
        try withDatabase { db in
            let args = ["who", "--db", db, "--no-pager", "4242"]
            #expect(try onTerminal(args, environment: ["TERM": "xterm"]).contains("\u{1b}[1m"))
            #expect(!(try onTerminal(args, environment: ["TERM": "xterm", "NO_COLOR": "1"]).contains("\u{1b}")))
            let dumb = try onTerminal(["who", "--db", db, "4242"], environment: ["TERM": "dumb", "PAGER": "sed s/^/paged:/"])
            #expect(!dumb.contains("\u{1b}") && !dumb.contains("paged:"), "\(dumb)")
        }
    }

    @Test("doctor's FAIL is bold red and warn yellow when colour is on, plain otherwise")
    func doctorColour() {
        let checks = [Check(id: "auditd", title: "auditd running", status: .fail, found: "no daemon"),
                      Check(id: "boot", title: "audit at boot", status: .warn, found: "audit=1 missing"),
                      Check(id: "logs", title: "log directory", status: .ok, found: "fine")]
        let coloured = DoctorReport.text(checks, colour: true)
        #expect(coloured.contains("\u{1b}[1;31mFAIL\u{1b}[0m  auditd running"))
        #expect(coloured.contains("\u{1b}[33mwarn\u{1b}[0m  audit at boot"))
        #expect(coloured.contains("\nok    log directory"))
        #expect(!DoctorReport.text(checks).contains("\u{1b}"))
    }

    @Test("--wide: tables are not cut to the terminal's width",
          .enabled(if: FileManager.default.isExecutableFile(atPath: script)))
    func wide() throws {
        try withDatabase { db in
            let args = ["who", "--db", db, "--no-pager", "--format", "table", "4242"]
            // 37 columns cannot fit 80 without cutting times and pids: one field per line.
            let fitted = try onTerminal(args, environment: ["TERM": "xterm"])
            #expect(fitted.contains("\n  event_time_utc = 2026-11-25T11:00:00.300Z\n") && !fitted.contains("…"), "\(fitted)")
            let wide = try onTerminal(args + ["--wide"], environment: ["TERM": "xterm"])
            #expect(!wide.contains("…"))
            #expect(wide.contains("/usr/lib/systemd/systemd"))
        }
    }

    @Test("golden: sql on an 80-column terminal prints rows that do not fit one field per line; --format line asks for it, --wide for the table",
          .enabled(if: FileManager.default.isExecutableFile(atPath: script)))
    func sqlAtEightyColumns() throws {
        try withDatabase { db in
            let query = "SELECT event_time_utc, signal_name, target_pid, target_comm, sender_pid, sender_exe, sender_cmdline FROM signals ORDER BY event_rowid LIMIT 2"
            let fitted = try onTerminal(["sql", "--db", db, query], environment: ["TERM": "xterm", "COLUMNS": "80", "LINES": "24"])
            try Golden.check(fitted, "sql-80-columns.txt")
            #expect(fitted.contains("event_time_utc = ") && !fitted.contains("…"), "\(fitted)")
            let narrow = try onTerminal(["sql", "--db", db, "SELECT event_time_utc, target_pid, signal_name FROM signals LIMIT 1"],
                                        environment: ["TERM": "xterm"])
            #expect(narrow.hasPrefix("event_time_utc            target_pid  signal_name\n"), "a table when it fits: \(narrow)")
            let wide = try onTerminal(["sql", "--db", db, "--wide", query], environment: ["TERM": "xterm"])
            #expect(!wide.contains(" = ") && wide.contains("sender_cmdline"), "\(wide)")
            let piped = try CLI.run(["sql", "--db", db, "--format", "line", "SELECT 1 AS a, 'x' AS bb"])
            #expect(piped.stdout == " a = 1\nbb = x\n", "\(piped.stdout)")
        }
    }
}
