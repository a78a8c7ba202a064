import Foundation
import Output
import Queries
import Store
import Testing

/// `who` and `report` describe a kill with one description: the same fields, in the same
/// words, whichever command is asked.
@Suite("one description of a kill: who and report agree")
struct KillDescriptionTests {
    /// The `  label     value` lines of a text block, wrapped lines joined again.
    static func fields(_ text: some StringProtocol) -> [String] {
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("            "), !out.isEmpty {
                out[out.count - 1] += " " + line.drop { $0 == " " }
            } else if line.hasPrefix("  "), !line.hasPrefix("   ") {
                out.append(String(line))
            }
        }
        return out
    }

    @Test("a kill's fields in who's answer are the report's, but for the time the report adds")
    func sameFields() throws {
        try TestLogs.withScratch { dir in
            let store = try WhoFixture.database(dir)
            var q = SignalQuery()
            q.targetPid = 4242
            let who = WhoReport.text(try Who.ask(q, in: store), WhoFixture.context)
            let whoFields = Self.fields(who.components(separatedBy: "\n\n").first ?? "")
            var rq = IncidentQuery(before: 1_795_604_401, window: 60)
            rq.targetPid = 4242
            let ctx = IncidentReport.Context(database: "who.sqlite", generatedAt: 1_795_605_000,
                                             timeZone: TimeZone(identifier: "UTC")!, users: WhoFixture.context.users)
            let report = IncidentReport.text(try IncidentReportQuery.run(rq, in: store), ctx)
            let section = report.components(separatedBy: "\n1. ").last?.components(separatedBy: "\n2. ").first ?? ""
            let reportFields = Self.fields(section)
            #expect(reportFields.first?.hasPrefix("  time      2026-11-25 11:00:00.300 UTC") == true, "\(reportFields)")
            #expect(Array(reportFields.dropFirst()) == whoFields, "who:\n\(whoFields.joined(separator: "\n"))\nreport:\n\(reportFields.joined(separator: "\n"))")
            #expect(whoFields.map { $0.prefix(12) } == ["  sent by   ", "  command   ", "  user      ", "  context   ", "  via       ",
                                                         "  target    ", "  evidence  ", "  process   ", "  systemd   "])
        }
    }
}
