import GRDB
import Store

/// A process name as an operator types it: a glob pattern, and also the exact name it may
/// stand for. killdb prints hostile names escaped (`evil\e[31m x`, `\xff`), and what it
/// prints must find what it printed, so the escaped form is read back into its bytes.
public enum NameInput {
    /// The bytes the escaped form `text` stands for (`\n \t \r \e \\ \xNN \u{N}` as
    /// SafeText writes them); nil when it holds no escape, or one SafeText never writes.
    public static func unescaped(_ text: String) -> [UInt8]? {
        let b = Array(text.utf8)
        guard b.contains(0x5c) else { return nil }
        var out: [UInt8] = []
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < b.count {
            guard b[i] == 0x5c else { out.append(b[i]); i += 1; continue }
            guard i + 1 < b.count else { return nil }
            switch b[i + 1] {
            case UInt8(ascii: "n"): out.append(0x0a); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "r"): out.append(0x0d); i += 2
            case UInt8(ascii: "e"): out.append(0x1b); i += 2
            case 0x5c: out.append(0x5c); i += 2
            case UInt8(ascii: "x"):
                guard i + 3 < b.count, let h = hex(b[i + 2]), let l = hex(b[i + 3]) else { return nil }
                out.append(h << 4 | l); i += 4
            case UInt8(ascii: "u"):
                guard i + 2 < b.count, b[i + 2] == UInt8(ascii: "{"),
                      let close = b[(i + 3)...].firstIndex(of: UInt8(ascii: "}")), close > i + 3 else { return nil }
                var v: UInt32 = 0
                for c in b[(i + 3)..<close] {
                    guard let d = hex(c), v < 0x110000 else { return nil }
                    v = v << 4 | UInt32(d)
                }
                guard let scalar = Unicode.Scalar(v) else { return nil }
                out += Array(String(Character(scalar)).utf8)
                i = close + 1
            default: return nil
            }
        }
        return out
    }

    /// Why a glob can match no string at all (SQLite's GLOB: a `[` set never closed), or nil.
    public static func malformed(_ pattern: String) -> String? {
        let b = Array(pattern.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "[") {
                var j = i + 1
                if j < b.count, b[j] == UInt8(ascii: "^") { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "]") { j += 1 }
                guard let close = b[min(j, b.count)...].firstIndex(of: UInt8(ascii: "]")) else {
                    return "its [ is never closed by a ], so as a pattern it matches nothing"
                }
                i = close + 1
            } else {
                i += 1
            }
        }
        return nil
    }
}

extension SignalStore {
    /// `read` for a question: an error in what was asked (QueryError, found while reading,
    /// as a malformed name is) stays that error, not a database error.
    func answering<T>(_ body: (Database) throws -> T) throws -> T {
        var asked: QueryError?
        let value = try read { db -> T? in
            do { return try body(db) } catch let e as QueryError { asked = e; return nil }
        }
        if let asked { throw asked }
        return value!
    }
}
