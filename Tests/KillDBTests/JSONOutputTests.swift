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
