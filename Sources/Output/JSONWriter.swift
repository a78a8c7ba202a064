import Doctor
import Foundation

/// A JSON document before it is written. Every command's JSON is written by `JSON`, so
/// every one follows the same rules: strings escaped for a terminal (`JSON.string`),
/// numbers always valid JSON (`JSON.value(.real)`), bytes that are not UTF-8 as U+FFFD.
public indirect enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case real(Double)
    case string(String)
    /// Text as logged, which may not be UTF-8.
    case bytes([UInt8])
    case array([JSONValue])
    /// Members in the order given.
    case object([(String, JSONValue)])

    public static func integer(_ v: Int) -> JSONValue { .integer(Int64(v)) }
    public static func optional(_ v: Double?) -> JSONValue { v.map(JSONValue.real) ?? .null }
    public static func optional(_ v: Int64?) -> JSONValue { v.map(JSONValue.integer) ?? .null }
    public static func optional(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
    /// An object whose members are sorted by name, for summaries a script reads by key.
    public static func sorted(_ members: [(String, JSONValue)]) -> JSONValue { .object(members.sorted { $0.0 < $1.0 }) }
}

extension JSON {
    /// `value` as JSON text: compact, or indented by two spaces per level.
    public static func write(_ value: JSONValue, pretty: Bool = false) -> String {
        var out = ""
        write(value, pretty: pretty, indent: 0, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, pretty: Bool, indent: Int, into out: inout String) {
        func newline(_ level: Int) { if pretty { out += "\n" + String(repeating: "  ", count: level) } }
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let v): out += String(v)
        case .real(let v): out += self.value(.real(v))
        case .string(let s): out += string(Array(s.utf8))
        case .bytes(let b): out += string(b)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                newline(indent + 1)
                write(item, pretty: pretty, indent: indent + 1, into: &out)
            }
            if !items.isEmpty { newline(indent) }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, item)) in members.enumerated() {
                if i > 0 { out += "," }
                newline(indent + 1)
                out += string(Array(key.utf8)) + (pretty ? ": " : ":")
                write(item, pretty: pretty, indent: indent + 1, into: &out)
            }
            if !members.isEmpty { newline(indent) }
            out += "}"
        }
    }
}

extension DoctorReport {
    /// `killdb doctor --format json`: `needs_action` and each check with its numbers.
    public static func json(_ checks: [Check]) -> String {
        JSON.write(.object([
            ("checks", .array(checks.map { c in
                var members: [(String, JSONValue)] = []
                if let action = c.action { members.append(("action", .string(action))) }
                members += [
                    ("details", .array(c.details.map(JSONValue.string))), ("found", .string(c.found)), ("id", .string(c.id)),
                    ("status", .string(c.status.rawValue)), ("title", .string(c.title)),
                    ("values", .sorted(c.values.map { ($0.key, JSONValue.real($0.value)) })),
                ]
                return .object(members)
            })),
            ("needs_action", .bool(Doctor.exitCode(checks) != 0)),
        ]), pretty: true)
    }
}
