import Foundation
import GRDB
import KillDB
@testable import Output
@testable import Queries
import Store
import Testing

/// `killdb report` over Tests/Fixtures/report/incident.log, ingested by the real ingester.
///
/// The window is the hour before 1795580000 (2026-11-25 04:13:20 UTC). The log holds, by
/// serial: 101 a kill an hour before the window; 102-104 `reaper` killing three `java`;
/// 105-106 `reaper` sending SIGTERM to nginx twice, 107 a probe; 108 alice's kill(1) refused
/// (EPERM); 109 a hostile sender (ESC, newline and `|` in its name) tgkill-ing a hostile
/// target; 110 kill(99999) ESRCH; 111 an ENRICHED pkill of java; 112 lost; 113 the hostile
/// sender again; 114 a kill after the window.
///
/// Goldens are in Tests/Fixtures/report/golden; KILLDB_UPDATE_GOLDENS=1 rewrites them.
@Suite("report: the incident report")
struct ReportTests {
    static let before = 1795580000.0
    static let fixture = TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/incident.log").path
    static let goldens = TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/golden")
    /// Stands in for this host's passwd, so goldens do not depend on the machine.
    static let users: UserNames = { [0: "root", 33: "www-data", 1000: "alice-here", 1001: "svc"][$0] }
    static let ctx = IncidentReport.Context(database: "/var/lib/killdb/killdb.sqlite", generatedAt: 1795580100,
                                            timeZone: TimeZone(identifier: "UTC")!, users: users)

    /// The report over a fresh database holding the fixture. The last ingest is pinned: it
    /// is the real time of the test run.
    func incident(before: Double = Self.before, _ configure: (inout IncidentQuery) -> Void = { _ in }) throws -> Incident {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([Self.fixture], db: db)
            var q = IncidentQuery(before: before, window: 3600)
            configure(&q)
            var incident = try IncidentReportQuery.run(q, in: try SignalStore.openReadOnly(path: db.path))
            #expect(incident.coverage.database.lastIngest != nil)
            incident.coverage.database.lastIngest = 1795580050
            return incident
        }
    }

    func serials(_ rows: [SignalRow]) -> [Int64] { rows.map(\.serial) }

    // MARK: sections

    @Test("without a target: every kill in the window, oldest first, and nothing outside it")
    func everyKill() throws {
        let r = try incident()
        #expect(serials(r.kills) == [102, 103, 104, 109, 111, 113])
        #expect(r.killsTotal == 6)
        #expect(r.kills.allSatisfy { $0.signal == 9 && $0.success != false })
    }

    @Test("each sender's other signals: SIGTERM counted by target, probes and the listed kills left out")
    func senderActivity() throws {
        let r = try incident()
        #expect(r.senders.map(\.pid) == [3100, 6666, 2700])
        let reaper = try #require(r.senders.first)
        #expect(reaper.activity.count == 1)
        let term = try #require(reaper.activity.first)
        #expect(term.signalName == "SIGTERM")
        #expect(term.targetPid == 5100)
        #expect(term.targetComm == Array("nginx".utf8))
        #expect(term.count == 2)
        #expect(term.first == 1795578300.4)
        #expect(term.last == 1795578305)
        #expect(r.senders[1].activity.isEmpty, "both of its kills are already listed")
    }

    @Test("repeated kills: reaper → java three times, the hostile sender twice; most frequent first")
    func patterns() throws {
        let r = try incident()
        #expect(r.patterns.count == 2)
        let reaper = try #require(r.patterns.first)
        #expect(reaper.senderExe == Array("/usr/local/bin/reaper".utf8))
        #expect(reaper.senderComm == Array("reaper".utf8))
        #expect(reaper.targetComm == Array("java".utf8))
        #expect(reaper.count == 3 && reaper.processes == 3 && reaper.senderProcesses == 1)
        #expect(reaper.first == 1795576800.1 && reaper.last == 1795578000.3)
        #expect(r.patterns[1].targetComm == Array("#*x*|`y`\u{1b}]0;t\u{07}".utf8))
        #expect(r.patterns[1].count == 2)
    }

    @Test("failed attempts: the EPERM and the ESRCH, any signal, oldest first")
    func failed() throws {
        let r = try incident()
        #expect(serials(r.failed) == [108, 110])
        #expect(r.failed.map(\.errno) == ["EPERM", "ESRCH"])
        #expect(r.failedTotal == 2)
    }

    @Test("coverage: the window lies inside the logs; the lost serial 112 is reported")
    func coverage() throws {
        let r = try incident()
        #expect(r.coverage.uncovered.isEmpty)
        #expect(r.coverage.database.lostEvents.count == 1)
        #expect(r.coverage.database.lostEvents.first?.missing == 1)
        #expect(r.coverage.database.firstEventTime == 1795572800)
        #expect(r.coverage.database.lastEventTime == 1795580600)
    }

    @Test("a name target: only java's kills; patterns and failures about java only")
    func nameTarget() throws {
        let r = try incident { $0.targetComm = "jav*" }
        #expect(serials(r.kills) == [102, 103, 104, 111])
        #expect(r.senders.map(\.pid) == [3100, 2700])
        #expect(r.patterns.map(\.count) == [3])
        #expect(r.failed.isEmpty)
    }

    @Test("a pid target with no kill: nothing found, but its failed attempt (ESRCH, no OBJ_PID) is there")
    func pidTargetFailedOnly() throws {
        let r = try incident { $0.targetPid = 99999 }
        #expect(r.kills.isEmpty && r.killsTotal == 0)
        #expect(r.senders.isEmpty && r.patterns.isEmpty)
        #expect(serials(r.failed) == [110])
    }

    @Test("a pid target: patterns are about the name of the process killed under that pid")
    func pidTargetPatterns() throws {
        let r = try incident { $0.targetPid = 5002 }
        #expect(serials(r.kills) == [103])
        #expect(r.patterns.map(\.targetComm) == [Array("java".utf8)])
    }

    @Test("--signal all: SIGTERM counts as sent, the probe still does not")
    func allSignals() throws {
        let r = try incident { $0.signals = .all }
        #expect(serials(r.kills) == [102, 103, 104, 105, 106, 109, 111, 113])
        #expect(r.kills.allSatisfy { !$0.probe })
        #expect(IncidentReport.text(r, Self.ctx).contains("Signals sent to any process in the window: 8"))
    }

    @Test("--limit keeps the kills nearest the incident and still counts them all")
    func limit() throws {
        let r = try incident { $0.limit = 2 }
        #expect(serials(r.kills) == [111, 113])
        #expect(r.killsTotal == 6)
        #expect(IncidentReport.text(r, Self.ctx).contains("The 2 newest of 6 are shown"))
    }

    @Test("--node: a node that logged nothing gives nothing, lost events of other nodes left out")
    func node() throws {
        let r = try incident { $0.node = "elsewhere" }
        #expect(r.kills.isEmpty && r.failed.isEmpty && r.patterns.isEmpty)
        #expect(r.coverage.database.lostEvents.isEmpty)
    }

    @Test("a window past the logs: the uncovered part is named")
    func uncovered() throws {
        let r = try incident(before: Self.before + 3600) { $0.targetPid = 424242 }
        #expect(r.kills.isEmpty)
        #expect(r.coverage.uncovered == [WindowCoverage.Span(start: 1795580600, end: Self.before + 3600)])
        let text = IncidentReport.text(r, Self.ctx)
        #expect(text.contains("Nothing found"))
        #expect(text.contains("NOT COVERED: 2026-11-25 04:23:20.000"))
    }

    @Test("no logs at all: the whole window is uncovered")
    func emptyDatabaseCoverage() {
        let c = WindowCoverage(start: 10, end: 20, database: DatabaseCoverage(
            firstEventTime: nil, lastEventTime: nil, lastIngest: nil, signalEvents: 0, lostEvents: []))
        #expect(c.uncovered == [WindowCoverage.Span(start: 10, end: 20)])
        let inside = WindowCoverage(start: 10, end: 20, database: DatabaseCoverage(
            firstEventTime: 12, lastEventTime: 15, lastIngest: nil, signalEvents: 1, lostEvents: []))
        #expect(inside.uncovered == [WindowCoverage.Span(start: 10, end: 12), WindowCoverage.Span(start: 15, end: 20)])
    }

    // MARK: names

    @Test("user names: the log's ENRICHED names as they are, local ones marked 'resolved here'")
    func names() throws {
        let text = IncidentReport.text(try incident(), Self.ctx)
        #expect(text.contains("uid 0 (root, resolved here), login uid unset"))
        #expect(text.contains("uid 1000 (alice), login uid 1000 (alice)"), "pkill's event was ENRICHED")
        #expect(text.contains("uid 1001 (svc-java), login uid 1000 (alice)"), "its target too")
    }

    // MARK: goldens

    @Test("golden: every kill, text / markdown / json")
    func goldenAll() throws {
        let r = try incident()
        try golden("all.txt", IncidentReport.text(r, Self.ctx))
        try golden("all.md", IncidentReport.markdown(r, Self.ctx))
        try golden("all.json", IncidentReport.json(r, Self.ctx))
    }

    @Test("golden: java's kills, text and markdown")
    func goldenJava() throws {
        let r = try incident { $0.targetComm = "java" }
        try golden("java.txt", IncidentReport.text(r, Self.ctx))
        try golden("java.md", IncidentReport.markdown(r, Self.ctx))
    }

    /// Tests/Fixtures/report/group-kill.log: `supervisor` kills process group 7000 (three
    /// workers, one audit event with three OBJ_PIDs); `timeout` kills one sleep. Neither sent
    /// anything else.
    @Test("golden: a process-group kill is one block listing what it reached; 'nothing else' is said once")
    func goldenGroupKill() throws {
        let r = try TestLogs.withScratch { dir -> Incident in
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/group-kill.log").path], db: db)
            var incident = try IncidentReportQuery.run(IncidentQuery(before: Self.before, window: 3600),
                                                       in: try SignalStore.openReadOnly(path: db.path))
            incident.coverage.database.lastIngest = 1795580050
            return incident
        }
        #expect(r.kills.count == 4, "one row per process reached")
        let text = IncidentReport.text(r, Self.ctx)
        try golden("group.txt", text)
        try golden("group.md", IncidentReport.markdown(r, Self.ctx))
        #expect(text.components(separatedBy: "SIGKILL to process group 7000: 3 processes reached").count == 2, "one block")
        #expect(!text.contains("SIGKILL to pid 7002"))
        #expect(text.contains("  reached   pid 7001 (worker)") && text.contains("            pid 7003 (worker)"))
        #expect(text.components(separatedBy: "anything else").count == 2, "said once")
        #expect(text.contains("By: /usr/bin/timeout (1), /usr/sbin/supervisor (1)."), "one kill each: the group kill is one")
        #expect(r.patterns.isEmpty, "one signal to a group is no repeated kill")
    }

    @Test("the summary opens the report and fits a screen: the counts, senders, targets and caveats")
    func summaryFitsAScreen() throws {
        let r = try incident()
        let text = IncidentReport.text(r, Self.ctx)
        let start = try #require(text.range(of: "Summary\n-------\n"))
        let summary = text[start.upperBound...].prefix { _ in true }.components(separatedBy: "\n\n").first ?? ""
        #expect(summary.split(separator: "\n").count <= 12, "\(summary)")
        #expect(text.range(of: "Summary")!.lowerBound < text.range(of: "1. Kills")!.lowerBound)
        #expect(summary.contains("Kills: 6 in the window."))
        #expect(summary.contains("By: /usr/local/bin/reaper (3), /tmp/`x`|#y (2), /usr/bin/pkill (1)."), "\(summary)")
        #expect(summary.contains("Of: java (4), #*x*|`y`\\e]0;t\\x07 (2)."), "\(summary)")
        #expect(summary.contains("Failed attempts: 2 (section 4)."))
        #expect(summary.contains("LOST: 1 audit event missing in the window"))
        #expect(summary.contains("The kernel log was never ingested"))
    }

    @Test("a sender with many kinds of activity: text and Markdown list the ten most frequent and count the rest; JSON lists all")
    func senderActivityCut() throws {
        var r = try incident()
        let term = try #require(r.senders.first?.activity.first)
        // Twelve kinds: pid 7000 signalled 12 times, 7001 11 times ... 7011 once.
        r.senders[0].activity = (0..<12).map { i in
            var a = term
            a.targetPid = 7000 + Int64(i)
            a.count = 12 - i
            return a
        }
        let text = IncidentReport.text(r, Self.ctx)
        #expect(text.contains("  3x SIGTERM to pid 7009 (nginx): accepted"))
        #expect(!text.contains("pid 7010") && !text.contains("pid 7011"))
        #expect(text.contains("  and 2 more (3 signals); --format json lists every one\n"), "\(text)")
        let md = IncidentReport.markdown(r, Self.ctx)
        #expect(md.contains("| 3 | SIGTERM | pid 7009"))
        #expect(!md.contains("pid 7010"))
        #expect(md.contains("| and 2 more (3 signals); --format json lists every one | | | | |\n"), "\(md)")
        let json = IncidentReport.json(r, Self.ctx)
        #expect(json.contains("\"target_pid\": 7011") || json.contains("\"target_pid\":7011"), "\(json)")
        // The fixture's own senders are under the cut: nothing said.
        #expect(!IncidentReport.text(try incident(), Self.ctx).contains("more ("))
    }

    @Test("text fits 80 columns: long lines wrap at spaces, never inside a time, continuations indented")
    func eightyColumns() throws {
        for r in [try incident(), try incident(before: Self.before + 3600) { $0.targetPid = 424242 }] {
            let text = IncidentReport.text(r, Self.ctx)
            for line in text.split(separator: "\n") {
                #expect(line.count <= 80, "\(line)")
                #expect(!line.hasPrefix("  0") && !line.hasPrefix("  GMT"), "a time was cut: \(line)")
            }
            #expect(!text.utf8.contains(0x01), "no glue left")
        }
        #expect(IncidentReport.wrap("aaa bbb ccc", indent: 4, width: 7) == "aaa bbb\n    ccc\n")
        #expect(IncidentReport.wrap("  x " + String(repeating: "y", count: 20), indent: 4, width: 10)
                == "  x\n    " + String(repeating: "y", count: 20) + "\n")
    }

    @Test("golden: nothing found, past the end of the logs")
    func goldenNothing() throws {
        let r = try incident(before: Self.before + 3600) { $0.targetPid = 424242 }
        try golden("nothing.txt", IncidentReport.text(r, Self.ctx))
        try golden("nothing.json", IncidentReport.json(r, Self.ctx))
    }

    func golden(_ name: String, _ actual: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = Self.goldens.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["KILLDB_UPDATE_GOLDENS"] == "1" {
            try FileManager.default.createDirectory(at: Self.goldens, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: url)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let line = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
            Issue.record("""
                \(name) differs from the golden at line \(line + 1) (KILLDB_UPDATE_GOLDENS=1 rewrites it):
                  expected: \(line < e.count ? String(e[line]) : "<end>")
                  actual:   \(line < a.count ? String(a[line]) : "<end>")
                """, sourceLocation: sourceLocation)
        }
    }

    // MARK: hostile names

    @Test("no raw ESC, BEL or newline from a logged string reaches any output")
    func noRawControls() throws {
        let r = try incident()
        for out in [IncidentReport.text(r, Self.ctx), IncidentReport.markdown(r, Self.ctx), IncidentReport.json(r, Self.ctx)] {
            #expect(!out.utf8.contains(0x1b))
            #expect(!out.utf8.contains(0x07))
            // The name's newline would start a line with "|name"; the target's with "]0;".
            for line in out.split(separator: "\n") {
                #expect(!line.hasPrefix("|name") && !line.hasPrefix("]0;") && !line.hasPrefix("| `6001`"))
            }
        }
        let text = IncidentReport.text(r, Self.ctx)
        #expect(text.contains("pid 6666 (evil\\e[2J\\n|name) /tmp/`x`|#y"))
        #expect(text.contains("pid 6001 (#*x*|`y`\\e]0;t\\x07)"))
    }

    @Test("markdown: a name cannot add table cells, headings or code: every row keeps 7 cells")
    func markdownInjection() throws {
        let md = IncidentReport.markdown(try incident(), Self.ctx)
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(rows.count >= 8)
        for row in rows {
            // GFM splits cells on `|` not escaped by a backslash, code spans or not.
            var pipes = 0, escaped = false
            for ch in row {
                if escaped { escaped = false; continue }
                if ch == "\\" { escaped = true } else if ch == "|" { pipes += 1 }
            }
            #expect(pipes == 8, "\(row)")
        }
        // Headings are ours: exactly the title, the summary, five sections and one per kill.
        #expect(md.split(separator: "\n").filter { $0.hasPrefix("#") }.count == 1 + 1 + 5 + 6)
        #expect(md.contains("``#*x*\\|`y`\\e]0;t\\x07``"), "the hostile target in a table, in a double-backtick span")
        #expect(md.contains("(``#*x*|`y`\\e]0;t\\x07``)"), "and outside tables without the pipe escape")
    }

    @Test("markdown code spans: fence longer than any backtick run, pipes escaped only in tables")
    func codeSpans() {
        #expect(MarkdownText.code("sh", inTable: false) == "`sh`")
        #expect(MarkdownText.code("a`b", inTable: false) == "``a`b``")
        #expect(MarkdownText.code("a``b`", inTable: false) == "``` a``b` ```")
        #expect(MarkdownText.code("a|b", inTable: true) == "`a\\|b`")
        #expect(MarkdownText.code("a|b", inTable: false) == "`a|b`")
        #expect(MarkdownText.code(" x", inTable: false) == "`  x `")
        #expect(MarkdownText.code("", inTable: false) == "*(empty)*")
        #expect(MarkdownText.code("  ", inTable: false) == "`  `", "spaces only: not stripped by the parser")
    }

    @Test("json: one object; event members are the signals columns; hostile bytes round-trip")
    func json() throws {
        let out = IncidentReport.json(try incident(), Self.ctx)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let kills = try #require(object["kills"] as? [[String: Any]])
        #expect(kills.count == 6)
        #expect(Set(kills[0].keys) == Set(SignalRow.outputColumns))
        #expect(kills[3]["sender_comm"] as? String == "evil\u{1b}[2J\n|name")
        #expect(kills[3]["target_comm"] as? String == "#*x*|`y`\u{1b}]0;t\u{07}")
        #expect(object["kills_total"] as? Int == 6)
        #expect((object["failed"] as? [Any])?.count == 2)
        #expect((object["users_resolved_here"] as? [String: String])?["0"] == "root")
        let coverage = try #require(object["coverage"] as? [String: Any])
        #expect((coverage["lost_events"] as? [Any])?.count == 1)
    }

    @Test("durations in the header read as people write them")
    func durations() {
        #expect(IncidentReport.unglue(IncidentReport.duration(3600)) == "1h")
        #expect(IncidentReport.unglue(IncidentReport.duration(5400)) == "1h 30m")
        #expect(IncidentReport.unglue(IncidentReport.duration(90061)) == "1d 1h 1m 1s")
    }
}
