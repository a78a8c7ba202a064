import Foundation
import Output
import Queries
import Testing

/// Tables on a terminal: what is cut, and how wide text is.
@Suite("tables: display width, columns never cut")
struct TableTests {
    static func text(_ s: String) -> Cell { .text(Array(s.utf8)) }

    @Test func displayWidthCountsWideAndZeroWidthCharacters() {
        #expect(DisplayWidth.of("日本語") == 6)
        #expect(DisplayWidth.of("java") == 4)
        #expect(DisplayWidth.of("e\u{301}") == 1, "a combining accent takes no column")
        #expect(DisplayWidth.of("ｆｕｌｌ") == 8)
        #expect(DisplayWidth.of("🔥") == 2)
    }

    @Test("wide characters are padded by display width, so columns line up")
    func wideCharactersAlign() {
        let out = Table.render(columns: ["name", "pid"], rows: [[Self.text("日本語"), .integer(1)], [Self.text("java"), .integer(22)]])
        let lines = out.split(separator: "\n").map(String.init)
        // "pid" ends in the same terminal column on every line.
        let ends = lines.map { DisplayWidth.of($0) }
        #expect(Set(ends).count == 1, "\(lines)")
    }

    @Test("columns in keep are never cut; the others are, with …, to fit the width")
    func keptColumnsAreWhole() {
        let time = "2026-11-24 19:02:30.412 UTC"
        let rows = [[Self.text(time), Self.text("pid 2032 (evil)"), Self.text(String(repeating: "x", count: 120))]]
        let out = Table.render(columns: ["time", "sender", "command"], rows: rows, width: 80, keep: [0, 1])
        let row = out.split(separator: "\n")[2]
        #expect(row.hasPrefix(time + "  pid 2032 (evil)  "), "\(row)")
        #expect(row.hasSuffix("…"))
        #expect(DisplayWidth.of(String(row)) <= 80)
        // Without a width (--wide, or not a terminal) nothing is cut.
        #expect(!Table.render(columns: ["time", "sender", "command"], rows: rows, keep: [0, 1]).contains("…"))
    }

    @Test("a cut never splits a wide character")
    func cutsWholeCharacters() {
        let rows = [[Self.text("a"), Self.text(String(repeating: "日", count: 40))]]
        let out = Table.render(columns: ["k", "v"], rows: rows, width: 20, keep: [0])
        let row = String(out.split(separator: "\n")[2])
        #expect(DisplayWidth.of(row) <= 20, "\(row)")
        #expect(row.hasSuffix("…"))
    }

    @Test("a cell that starts with a pid is cut after the pid, never inside it")
    func pidsAreWhole() {
        let rows = [[Self.text("2026-11-24 19:02:30.412 UTC"), Self.text("pid 203244 (" + String(repeating: "e", count: 60) + ")"),
                     Self.text(String(repeating: "x", count: 60))]]
        let out = Table.render(columns: ["time", "target", "command"], rows: rows, width: 50, keep: [0])
        let row = String(out.split(separator: "\n")[2])
        #expect(row.contains("pid 203244"), "\(row)")
    }

    @Test("golden at 80 columns: who's earlier candidates keep the time, pid, signal and result whole; commands are cut at their end")
    func whoAtEightyColumns() throws {
        try TestLogs.withScratch { dir in
            var q = SignalQuery()
            q.targetPid = 4242
            let answer = try Who.ask(q, in: try WhoFixture.database(dir))
            var ctx = WhoFixture.context
            ctx.width = 80
            let text = WhoReport.text(answer, ctx)
            let table = text.components(separatedBy: "Earlier candidates, newest first:\n")[1].split(separator: "\n").prefix(3)
            try Golden.check(table.joined(separator: "\n") + "\n", "who-80-columns.txt")
            for line in table { #expect(DisplayWidth.of(String(line)) <= 80, "\(line)") }
            #expect(table.last?.hasPrefix("2026-11-25 10:00:00.100 UTC  SIGKILL  pid 4242") == true, "\(table)")
            #expect(table.last?.hasSuffix("  accepted") == true)
        }
    }

    @Test("rows too wide for the terminal: one field per line, as sqlite3 -line; a table when they fit")
    func linesWhenRowsDoNotFit() {
        let columns = ["event_time_utc", "sender_cmdline", "target_pid"]
        let rows = [[Self.text("2026-11-24T19:02:30.412Z"), Self.text(String(repeating: "x", count: 70)), .integer(4242)],
                    [Self.text("2026-11-24T19:02:31.000Z"), Self.text("kill -9 1"), .integer(1)]]
        #expect(!Table.fits(columns: columns, rows: rows, width: 30, keep: Table.neverCut(columns)))
        #expect(Table.fits(columns: columns, rows: rows, width: 80, keep: Table.neverCut(columns)))
        #expect(Table.neverCut(columns) == [0, 2])
        let lines = Lines.render(columns: columns, rows: rows)
        #expect(lines.hasPrefix("event_time_utc = 2026-11-24T19:02:30.412Z\nsender_cmdline = xxx"))
        #expect(lines.contains("\n    target_pid = 4242\n\nevent_time_utc = 2026-11-24T19:02:31.000Z\n"), "\(lines)")
    }
}
