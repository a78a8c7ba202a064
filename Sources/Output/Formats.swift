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
    case text, table, json, csv
}

/// Tables for a terminal: columns padded, every cell escaped, and the widest columns cut
/// (with …) to fit `width` when one is given.
public enum Table {
    public static func render(columns: [String], rows: [[Cell]], width: Int? = nil) -> String {
        var cells = rows.map { $0.map(display) }
        let header = columns.map(SafeText.line)
        var widths = header.map(\.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        if let width {
            // Shrink the widest column until the table fits, but no column below 6.
            let gaps = 2 * max(0, columns.count - 1)
            while widths.reduce(0, +) + gaps > width {
                guard let i = widths.indices.max(by: { widths[$0] < widths[$1] }), widths[i] > 6 else { break }
                widths[i] -= 1
            }
            cells = cells.map { row in row.enumerated().map { fit($0.element, widths[$0.offset]) } }
        }
        let numeric = columns.indices.map { i in rows.allSatisfy { row in
            switch row[i] { case .integer, .real, .null: return true; default: return false } } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return numeric[i] ? pad + c : (i == row.count - 1 ? c : c + pad)
            }.joined(separator: "  ")
        }
        var out = line(header.enumerated().map { fit($0.element, widths[$0.offset]) }) + "\n"
        out += line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for row in cells { out += line(row) + "\n" }
        return out
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

    static func fit(_ s: String, _ width: Int) -> String {
        s.count <= width ? s : String(s.prefix(max(0, width - 1))) + "…"
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

/// CSV (RFC 4180). CSV has no escape for control characters and is often opened in a
/// terminal or a spreadsheet, so text is escaped as in text output (`\e`, `\n`, `\xff`).
public enum CSV {
    public static func render(columns: [String], rows: [[Cell]]) -> String {
        var out = columns.map { field(SafeText.line($0)) }.joined(separator: ",") + "\r\n"
        for row in rows {
            out += row.map { cell -> String in
                switch cell {
                case .null: return ""
                case .integer(let v): return String(v)
                case .real(let v): return formatReal(v)
                case .text(let b): return field(SafeText.escape(b))
                case .blob(let b): return b.map { String(format: "%02x", $0) }.joined()
                }
            }.joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

public enum Terminal {
    /// Columns of the terminal on stdout, nil when stdout is not a terminal.
    public static func width() -> Int? {
        guard isatty(STDOUT_FILENO) == 1 else { return nil }
        var ws = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    /// Colour only on a terminal, and never with NO_COLOR set (no-color.org).
    public static var colour: Bool {
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
    }
}
