import Output
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
}
