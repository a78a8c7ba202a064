import Foundation
import Output
import Testing

/// CSV as RFC 4180 says, with OWASP's defence against formulas.
@Suite("CSV: stored values, RFC 4180 quoting, no formulas for spreadsheets")
struct CSVTests {
    /// An RFC 4180 reader, independent of the writer: fields of each CRLF-ended record.
    static func parse(_ csv: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = ""
        var quoted = false, i = csv.unicodeScalars.startIndex
        let s = csv.unicodeScalars
        while i < s.endIndex {
            let c = s[i]
            if quoted {
                if c == "\"" {
                    let next = s.index(after: i)
                    if next < s.endIndex && s[next] == "\"" { field.unicodeScalars.append("\""); i = next } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" { quoted = true
            } else if c == "," { record.append(field); field = ""
            } else if c == "\r" && s.index(after: i) < s.endIndex && s[s.index(after: i)] == "\n" {
                record.append(field); records.append(record); record = []; field = ""; i = s.index(after: i)
            } else { field.unicodeScalars.append(c) }
            i = s.index(after: i)
        }
        return records
    }

    static func text(_ s: String) -> Cell { .text(Array(s.utf8)) }

    @Test("text comes back exactly as stored: commas, quotes, newlines, backslashes, control characters")
    func roundTrip() {
        let values = ["a,b", "say \"hi\"", "two\nlines", "cr\rhere", #"C:\temp\new"#, "esc\u{1b}[2J", "plain", ""]
        let csv = CSV.render(columns: ["v"], rows: values.map { [Self.text($0)] }, escaped: false)
        #expect(Self.parse(csv) == [["v"]] + values.map { [$0] })
        #expect(csv.contains(#"C:\temp\new"#), "a backslash is not doubled")
    }

    @Test("a cell a spreadsheet would run as a formula gets a ' in front and quotes; numbers stay numbers",
          arguments: ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"])
    func formulasAreNeutralised(value: String) {
        let csv = CSV.render(columns: ["v", "n"], rows: [[Self.text(value), .integer(-5)]], escaped: false)
        let parsed = Self.parse(csv)
        #expect(parsed.last == ["'" + value, "-5"], "\(csv)")
        #expect(csv.hasPrefix("v,n\r\n\"'"))
    }

    @Test("on a terminal (escaped) text is escaped as in text output, so nothing drives the terminal")
    func escapedForATerminal() {
        let csv = CSV.render(columns: ["v"], rows: [[Self.text("esc\u{1b}[2J,x")]], escaped: true)
        #expect(!csv.utf8.contains(0x1b))
        #expect(csv == "v\r\n\"esc\\e[2J,x\"\r\n")
    }

    @Test("bytes that are not UTF-8 become U+FFFD, as in JSON")
    func invalidUTF8() {
        let csv = CSV.render(columns: ["v"], rows: [[.text([0x61, 0xff, 0x62])]], escaped: false)
        #expect(csv == "v\r\na\u{FFFD}b\r\n")
    }
}
