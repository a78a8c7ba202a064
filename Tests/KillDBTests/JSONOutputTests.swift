import Foundation
import KillDB
@testable import Output
import Queries
import Store
import Testing

/// Every command's JSON is written by one writer: valid JSON numbers, strings safe on a
/// terminal, whatever the command.
@Suite("JSON output: one writer for every command")
struct JSONOutputTests {
    @Test("a time a hair past a whole second is a JSON number, not '1.' (report's generated_at, once in a thousand runs)")
    func numbers() throws {
        #expect(JSON.value(.real(1_795_605_200.0003)) == "1795605200.0")
        #expect(JSON.value(.real(1.0004)) == "1.0")
        #expect(JSON.value(.real(0.0004)) == "0.0")
        #expect(JSON.value(.real(-0.0004)) == "0.0", "no sign on a value that rounds to zero")
        #expect(JSON.value(.real(-0.0)) == "0.0")
        #expect(JSON.value(.real(1_795_600_800.1)) == "1795600800.1")
        #expect(JSON.value(.real(2.5)) == "2.5" && JSON.value(.real(3600)) == "3600.0")
        #expect(JSON.value(.real(-1.25)) == "-1.25")
        #expect(JSON.value(.real(1e20)) == "100000000000000000000.0")
        #expect(JSON.value(.real(.nan)) == "null")
        for v in [1.0004, -0.0004, 0.9999, 1e20, -3.0001] {
            let text = "[" + JSON.value(.real(v)) + "]"
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Double]
            #expect(parsed?.count == 1 && abs((parsed?.first ?? .nan) - v) < 0.001, "\(v) written as \(text)")
        }
    }

    /// Tests/Fixtures/report/incident.log: kills of java and more, two failed attempts, a
    /// probe, one lost event (serial 112), no kernel log.
    @Test("who --format json is an object: the answers, coverage and uncovered spans, lost events, what was hidden, the kernel log and the tracer; every time also ISO 8601 UTC")
    func whoObject() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            let log = TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/incident.log").path
            try #require(try CLI.run(["ingest", "--db", db, log]).status == 0)
            let r = try CLI.run(["who", "--db", db, "--format", "json", "--comm", "java", "--since", "@1795576400", "--until", "@1795580000"])
            #expect(r.status == 0, "\(r.stderr)")
            let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
            #expect(Set(o.keys) == ["question", "after", "after_utc", "before", "before_utc", "answers", "truncated", "hidden",
                                    "cgroup_kills", "coverage", "kernel_log", "tracer"])
            #expect(o["after_utc"] as? String == "2026-11-25T03:13:20.000Z" && o["before"] as? Double == 1795580000)
            let answers = try #require(o["answers"] as? [[String: Any]])
            #expect(answers.map { $0["target_pid"] as? Int } == [5004, 5003, 5002, 5001])
            #expect(answers.first?["kind"] as? String == "signal")
            #expect(answers.first?["event_time"] as? Double == 1795579500 && answers.first?["event_time_utc"] as? String == "2026-11-25T04:05:00.000Z")
            let coverage = try #require(o["coverage"] as? [String: Any])
            #expect(coverage["first_event_time_utc"] as? String == "2026-11-25T02:13:20.000Z")
            #expect((coverage["uncovered"] as? [Any])?.isEmpty == true, "the window lies within the logs")
            let lost = try #require((coverage["lost_events"] as? [[String: Any]])?.first)
            #expect(lost["missing"] as? Int == 1 && lost["after_time_utc"] as? String == "2026-11-25T04:05:00.000Z")
            let kernel = try #require(o["kernel_log"] as? [String: Any])
            #expect(kernel["ever_read"] as? Bool == false)
            #expect((o["tracer"] as? [String: Any])?["ever_ran"] as? Bool == false)

            // Failed attempts and probes hidden are counted.
            let pid1 = try CLI.run(["who", "--db", db, "--format", "json", "--signal", "all", "1"])
            let hidden = try #require((try JSONSerialization.jsonObject(with: Data(pid1.stdout.utf8)) as? [String: Any])?["hidden"] as? [String: Any])
            #expect(hidden["failed"] as? Int == 1 && hidden["probes"] as? Int == 0)
            let nginx = try CLI.run(["who", "--db", db, "--format", "json", "--signal", "all", "5100"])
            #expect(((try JSONSerialization.jsonObject(with: Data(nginx.stdout.utf8)) as? [String: Any])?["hidden"] as? [String: Any])?["probes"] as? Int == 1)

            // Nothing found is not "no logs": the answers are empty, the uncovered span says why.
            let later = try CLI.run(["who", "--db", db, "--format", "json", "--since", "@1795590000", "4242"])
            #expect(later.status == 1)
            let none = try #require(try JSONSerialization.jsonObject(with: Data(later.stdout.utf8)) as? [String: Any])
            #expect((none["answers"] as? [Any])?.isEmpty == true)
            let spans = try #require((none["coverage"] as? [String: Any])?["uncovered"] as? [[String: Any]])
            #expect(spans.count == 1 && spans.first?["start"] as? Double == 1795590000 && spans.first?["end"] is NSNull, "\(spans)")
        }
    }

    @Test("who --format csv has event_time_utc beside the epoch, as the signals view does")
    func whoCSVTimes() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite").path
            try #require(try CLI.run(["ingest", "--db", db, TestLogs.fixture("three-kills.log")]).status == 0)
            let r = try CLI.run(["who", "--db", db, "--format", "csv", "--signal", "all"])
            let lines = r.stdout.components(separatedBy: "\r\n")
            #expect(lines.first?.hasSuffix(",key,event_time_utc") == true, "\(lines.first ?? "")")
            let view = try CLI.run(["sql", "--db", db, "--format", "csv", "SELECT event_time_utc FROM signals ORDER BY event_time DESC LIMIT 1"])
            let utc = view.stdout.components(separatedBy: "\r\n")[1]
            #expect(lines.count > 1 && lines[1].hasSuffix("," + utc), "\(lines[1]) vs \(utc)")
        }
    }

    @Test("report --format json generated a hair past a whole second parses")
    func reportGeneratedAt() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/incident.log").path], db: db)
            let incident = try IncidentReportQuery.run(IncidentQuery(before: 1_795_580_000.0002), in: try SignalStore.openReadOnly(path: db.path))
            let ctx = IncidentReport.Context(database: "k.sqlite", generatedAt: 1_795_580_100.0004, timeZone: TimeZone(identifier: "UTC")!,
                                             users: { _ in nil })
            let json = IncidentReport.json(incident, ctx)
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect(object?["generated_at"] as? Double == 1_795_580_100.0, "\(json.prefix(200))")
        }
    }

    @Test("ingest's JSON summary escapes a hostile path as every other JSON output does")
    func ingestSummaryIsTerminalSafe() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit\u{1b}]0;x\u{07}\u{202e}.log")
            try TestLogs.write(AuditLine.killEvent("1600000000.000:1", target: 77), to: log)
            try TestLogs.age(log)
            let summary = try TestLogs.ingest([log.path], db: dir.appendingPathComponent("k.sqlite"))
            let json = IngestReport.json(summary, database: "k.sqlite")
            #expect(!json.contains("\u{1b}") && !json.contains("\u{07}") && !json.contains("\u{202e}"), "raw control characters in \(json)")
            // A direction override is valid JSON raw, but a terminal showing it would obey it.
            #expect(json.contains("\\u001b]0;x\\u0007\\u202e"))
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect((object?["files"] as? [[String: Any]])?.first?["path"] as? String == log.path)
        }
    }

    @Test("the writer: members in order, sorted when asked, indented when pretty")
    func writer() {
        let v = JSONValue.object([("b", .integer(1)), ("a", .array([.null, .bool(true), .string("x\n")]))])
        #expect(JSON.write(v) == #"{"b":1,"a":[null,true,"x\n"]}"#)
        #expect(JSON.write(.sorted([("b", .integer(1)), ("a", .object([]))])) == #"{"a":{},"b":1}"#)
        #expect(JSON.write(.object([("a", .array([.integer(1)]))]), pretty: true) == "{\n  \"a\": [\n    1\n  ]\n}")
    }
}
