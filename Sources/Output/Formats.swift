import Foundation

/// One value of a result, as SQLite types it. Text is kept as bytes: it may not be UTF-8.
public enum Cell: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text([UInt8])
    case blob([UInt8])
}

public enum OutputFormat: String, Sendable, CaseIterable {
    /// `line`: one field per line, rows apart (sqlite3 -line), for rows too wide for a table.
    case text, table, line, json, csv
}

/// Tables for a terminal: columns padded, every cell escaped, and, to fit `width` when one
/// is given, the widest columns cut at their end (with …), except those in `keep` (a time, a
/// pid, a signal: cut, they would say something else). A cell that starts `pid N` is never
/// cut inside that. Widths are display widths: `日本語` takes six columns, a combining
/// accent none.
public enum Table {
    /// `cutFirst`: columns given up before the others (a command line, whose end matters least).
    public static func render(columns: [String], rows: [[Cell]], width: Int? = nil, keep: Set<Int> = [],
                              cutFirst: Set<Int> = []) -> String {
        var cells = rows.map { $0.map(display) }
        let header = columns.map(SafeText.line)
        var widths = header.map(DisplayWidth.of)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], DisplayWidth.of(c)) } }
        if let width {
            let floor = minimums(header, cells, widths, keep)
            // Shrink the widest column that may be cut until the table fits.
            let gaps = 2 * max(0, columns.count - 1)
            while widths.reduce(0, +) + gaps > width {
                let cuttable = widths.indices.filter { widths[$0] > floor[$0] }
                let first = cuttable.filter(cutFirst.contains)
                guard let i = (first.isEmpty ? cuttable : first).max(by: { widths[$0] < widths[$1] }) else { break }
                widths[i] -= 1
            }
            cells = cells.map { row in row.enumerated().map { fit($0.element, widths[$0.offset]) } }
        }
        let numeric = columns.indices.map { i in rows.allSatisfy { row in
            switch row[i] { case .integer, .real, .null: return true; default: return false } } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - DisplayWidth.of(c)))
                return numeric[i] ? pad + c : (i == row.count - 1 ? c : c + pad)
            }.joined(separator: "  ")
        }
        var out = line(header.enumerated().map { fit($0.element, widths[$0.offset]) }) + "\n"
        out += line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for row in cells { out += line(row) + "\n" }
        return out
    }

    /// Whether the table fits `width` with the columns in `keep` whole and no other column
    /// cut below its floor; when not, a person is better served one field per line.
    public static func fits(columns: [String], rows: [[Cell]], width: Int, keep: Set<Int> = []) -> Bool {
        let cells = rows.map { $0.map(display) }
        let header = columns.map(SafeText.line)
        var widths = header.map(DisplayWidth.of)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], DisplayWidth.of(c)) } }
        let floor = minimums(header, cells, widths, keep)
        return floor.reduce(0, +) + 2 * max(0, columns.count - 1) <= width
    }

    /// The narrowest each column may get: whole in `keep`; else 6 (or the whole cell when
    /// narrower) or its header's width, and never less than a `pid N` a cell starts with,
    /// plus the ellipsis.
    static func minimums(_ header: [String], _ cells: [[String]], _ widths: [Int], _ keep: Set<Int>) -> [Int] {
        widths.indices.map { i in
            if keep.contains(i) { return widths[i] }
            var floor = max(min(6, widths[i]), DisplayWidth.of(header[i]))
            for row in cells where row[i].hasPrefix("pid ") {
                let digits = row[i].dropFirst(4).prefix { $0.isNumber }.count
                if 4 + digits < DisplayWidth.of(row[i]) { floor = max(floor, 4 + digits + 1) }
            }
            return floor
        }
    }

    /// Indexes of `columns` that must never be cut: times, ids, pids, signals, results.
    public static func neverCut(_ columns: [String]) -> Set<Int> {
        Set(columns.indices.filter { i in
            let c = columns[i]
            return c.hasSuffix("time") || c.hasSuffix("_utc") || c.hasSuffix("_id") || c.hasSuffix("pid") || c.hasSuffix("_arg")
                || c.hasPrefix("signal") || c == "serial" || c == "success" || c == "errno" || c == "exit"
        })
    }

    static func display(_ cell: Cell) -> String {
        switch cell {
        case .null: return ""
        case .integer(let v): return String(v)
        case .real(let v): return formatReal(v)
        case .text(let b): return SafeText.escape(b)
        case .blob(let b): return "x'" + b.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }

    /// `s` cut to `width` display columns, its last one an ellipsis; never half a wide character.
    static func fit(_ s: String, _ width: Int) -> String {
        guard DisplayWidth.of(s) > width else { return s }
        var out = ""
        var used = 0
        for c in s {
            let w = DisplayWidth.of(c)
            if used + w > width - 1 { break }
            out.append(c)
            used += w
        }
        return out + "…"
    }
}

/// One field per line, `name = value`, names right-aligned, a blank line between rows: what
/// `sqlite3 -line` prints, for rows too wide for a terminal's table. Values are escaped as
/// in a table and never cut.
public enum Lines {
    public static func render(columns: [String], rows: [[Cell]], first: Bool = true) -> String {
        let names = columns.map(SafeText.line)
        let width = names.map(DisplayWidth.of).max() ?? 0
        var out = ""
        for (n, row) in rows.enumerated() {
            if !(first && n == 0) { out += "\n" }
            for (i, cell) in row.enumerated() where i < names.count {
                out += String(repeating: " ", count: width - DisplayWidth.of(names[i])) + names[i] + " = " + Table.display(cell) + "\n"
            }
        }
        return out
    }
}

/// Columns a string takes on a terminal, as wcwidth(3) counts them: East Asian wide and
/// fullwidth characters (CJK, most emoji) two, combining marks and zero-width ones none.
public enum DisplayWidth {
    public static func of(_ s: String) -> Int { s.reduce(0) { $0 + of($1) } }

    public static func of(_ c: Character) -> Int {
        var width = 0
        for (n, scalar) in c.unicodeScalars.enumerated() {
            let w = of(scalar)
            // A grapheme is as wide as its base (an emoji sequence's parts after the first add nothing).
            width = n == 0 ? w : max(width, w == 2 ? 2 : width)
        }
        return width
    }

    static func of(_ u: Unicode.Scalar) -> Int {
        let v = u.value
        switch u.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if v == 0x200B || (0x1160...0x11FF).contains(v) { return 0 }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0, 0x23F3...0x23F3,
            0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F, 0x2693...0x2693, 0x26A1...0x26A1,
            0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA,
            0x26F2...0x26F3, 0x26F5...0x26F5, 0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B,
            0x2728...0x2728, 0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
            0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
            0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F,
            0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
            0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF, 0x1F004...0x1F004, 0x1F0CF...0x1F0CF,
            0x1F18E...0x1F18E, 0x1F191...0x1F19A, 0x1F200...0x1F251, 0x1F300...0x1F64F, 0x1F680...0x1F6FF,
            0x1F7E0...0x1F7EB, 0x1F90C...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
        ]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }
}

extension String {
    /// Cut or padded with spaces to `n` characters, as Foundation's padding(toLength:) but
    /// without its cost (it showed in the profile of a report).
    func padded(to n: Int) -> String {
        let c = count
        return c >= n ? String(prefix(n)) : self + String(repeating: " ", count: n - c)
    }
}

func formatReal(_ v: Double) -> String {
    // Event times: milliseconds, no exponent. Rounded to milliseconds, 1.0004 is "1.000":
    // the zeros go, but one digit stays after the point ("1." is no JSON number), and a
    // value that rounds to zero has no sign ("-0.0" would claim one).
    if v == v.rounded() && abs(v) < 1e15 { return v == 0 ? "0.0" : String(format: "%.1f", v) }
    var s = String(format: "%.3f", v)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s += "0" }
    return s == "-0.0" ? "0.0" : s
}

/// JSON output: an array of objects. Strings are escaped as JSON requires (control
/// characters as \u00XX); bytes that are not UTF-8 become U+FFFD, since JSON text must be
/// UTF-8. The exact bytes are always in the database: `hex(CAST(col AS BLOB))`.
public enum JSON {
    public static func render(columns: [String], rows: [[Cell]]) -> String {
        var out = "["
        for (n, row) in rows.enumerated() {
            out += n == 0 ? "\n" : ",\n"
            out += object(columns.enumerated().map { ($0.element, value(row[$0.offset])) })
        }
        return out + (rows.isEmpty ? "]" : "\n]")
    }

    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string(Array($0.0.utf8)) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    public static func value(_ cell: Cell) -> String {
        switch cell {
        case .null: return "null"
        case .integer(let v): return String(v)
        case .real(let v): return v.isFinite ? formatReal(v) : "null"
        case .text(let b): return string(b)
        case .blob(let b): return string(Array(b.map { String(format: "%02x", $0) }.joined().utf8))
        }
    }

    public static func string(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)  // repairs invalid UTF-8 with U+FFFD
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // Controls, and the invisible or direction-changing code points text output
            // escapes too: JSON allows them raw, but a terminal showing it would obey them.
            case _ where s.value > 0xffff && SafeText.isUnsafe(s):
                // Beyond the BMP (tag characters): JSON's \u takes a UTF-16 surrogate pair.
                let v = s.value - 0x10000
                out += String(format: "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff))
            case _ where s.value < 0x20 || s.value == 0x7f || SafeText.isUnsafe(s):
                out += String(format: "\\u%04x", s.value)
            default: out.unicodeScalars.append(s)
            }
        }
        return out + "\""
    }
}

/// CSV (RFC 4180): fields with a comma, a double quote, CR or LF are quoted, quotes doubled,
/// lines end in CRLF. Text is the stored value, for the program reading it (bytes that are not
/// UTF-8 become U+FFFD, as in JSON; the exact bytes are `hex(CAST(col AS BLOB))`), except:
/// - a text cell starting with `=`, `+`, `-`, `@`, a tab or a CR gets a `'` in front (and is
///   quoted), as OWASP recommends against CSV injection: a spreadsheet would run it as a
///   formula. Numbers are numbers, so -5 stays -5.
/// - with `escaped` (the default, and `who`'s choice when stdout is a terminal), text is
///   escaped as in text output (`\e`, `\n`, `\xff`), for a person reading it. `who` passes
///   false when a program reads it.
public enum CSV {
    public static func render(columns: [String], rows: [[Cell]], escaped: Bool = true) -> String {
        func text(_ b: [UInt8]) -> String { escaped ? SafeText.escape(b) : String(decoding: b, as: UTF8.self) }
        var out = columns.map { field(escaped ? SafeText.line($0) : $0) }.joined(separator: ",") + "\r\n"
        for row in rows {
            out += row.map { cell -> String in
                switch cell {
                case .null: return ""
                case .integer(let v): return String(v)
                case .real(let v): return formatReal(v)
                case .text(let b): return field(text(b))
                case .blob(let b): return b.map { String(format: "%02x", $0) }.joined()
                }
            }.joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// The characters a spreadsheet takes as the start of a formula (OWASP's list).
    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    static func field(_ value: String) -> String {
        var s = value
        var quote = false
        if let first = s.unicodeScalars.first, formulaStarts.contains(first) {
            s = "'" + s
            quote = true
        }
        if quote || s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            var q = "\""
            for scalar in s.unicodeScalars {
                if scalar == "\"" { q += "\"\"" } else { q.unicodeScalars.append(scalar) }
            }
            return q + "\""
        }
        return s
    }
}

/// The terminal on stdout as the CLI found it before printing anything (a pager may take
/// stdout over later). Renderers read it and never look at the terminal themselves.
public enum Terminal {
    /// Whether stdout is a terminal (a person reads it, not a program).
    nonisolated(unsafe) public static var isTerminal = false
    /// Columns tables fit: the terminal's; nil when stdout is not a terminal, or with --wide.
    nonisolated(unsafe) public static var columns: Int?
    /// ANSI colour and bold: on a terminal, without NO_COLOR (no-color.org), TERM not dumb.
    nonisolated(unsafe) public static var colourful = false

    public static func width() -> Int? { columns }
    public static var colour: Bool { colourful }
}

extension JSON {
    /// An epoch time as a JSON number, or null.
    public static func time(_ t: Double?) -> String { t.map { value(.real($0)) } ?? "null" }

    /// The same time as ISO 8601 UTC text (2026-11-24T19:02:30.412Z), or null.
    public static func utc(_ t: Double?) -> String {
        t.flatMap { $0.isFinite ? string(Array(Time.iso($0).utf8)) : nil } ?? "null"
    }

    /// `members` with, after each time (a name ending in `_time` or `_at`, or `event_time`),
    /// the same time as ISO 8601 UTC under the name with `_utc` added.
    public static func timed(_ members: [(String, String)]) -> [(String, String)] {
        var out: [(String, String)] = []
        for (name, v) in members {
            out.append((name, v))
            if name.hasSuffix("_time") || name.hasSuffix("_at") || name == "time" {
                out.append((name + "_utc", utc(Double(v))))
            }
        }
        return out
    }
}
